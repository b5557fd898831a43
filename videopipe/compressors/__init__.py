"""videopipe.compressors: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import COMPRESSORS as _REG  # noqa: F401
