"""videopipe.retrieval: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import EMBEDDERS as _REG  # noqa: F401
