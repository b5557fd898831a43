"""videopipe.batch: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import EXECUTORS as _REG  # noqa: F401
