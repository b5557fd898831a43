"""videopipe.models: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import MODELS as _REG  # noqa: F401
