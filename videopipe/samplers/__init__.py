"""videopipe.samplers: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import SAMPLERS as _REG  # noqa: F401
