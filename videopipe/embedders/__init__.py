"""videopipe.embedders: image/text embedders (the ``Embedder`` protocol in ``videopipe.protocols``).

Shared by the query-aware samplers and by retrieval, so it is its own subpackage rather than a
part of ``retrieval/``. Registry entries (``EMBEDDERS``) are declared here lazily.
"""

from videopipe.registry import EMBEDDERS as _REG  # noqa: F401

_REG.register(
    "text",
    "videopipe.embedders.text:TextEmbedder",
    summary="sentence embedder over clip text (subtitles/captions); default all-MiniLM-L6-v2, offline",
)
