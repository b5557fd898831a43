"""videopipe.retrieval: clip segmentation, FAISS index store and search."""
