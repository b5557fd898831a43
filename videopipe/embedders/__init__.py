"""videopipe.embedders: image/text embedders (the ``Embedder`` protocol in ``videopipe.protocols``).

Shared by the query-aware samplers and by retrieval, so it is its own subpackage rather than a
part of ``retrieval/``. Registry entries (``EMBEDDERS``) are declared here lazily.
"""

from videopipe.registry import EMBEDDERS as _REG

_REG.register(
    "color",
    "videopipe.embedders.color:ColorEmbedder",
    summary="deterministic colour-word embedder for tests and demos (no model)",
)
_REG.register(
    "clip",
    "videopipe.embedders.clip:ClipEmbedder",
    summary="CLIP / SigLIP image-text embeddings via transformers (model_id=...)",
)
