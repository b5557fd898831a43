"""One :class:`Registry` class for every plugin kind.

Entries are registered *lazily* as ``"module:attribute"`` strings so that listing or
validating names never imports torch models, faiss, ray or decord. The object is imported
on first :meth:`Registry.get`/:meth:`Registry.create`.

Each plugin subpackage (``videopipe.samplers``, ``videopipe.compressors``, ...) registers
its entries in its ``__init__`` (the models in ``videopipe.models.entries``); a registry imports that subpackage the first time it is
asked for its names, so ``SAMPLERS.names()`` always sees every built-in entry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from videopipe.errors import ConfigError, UnknownPluginError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str | Callable[..., Any]
    summary: str = ""

    def load(self) -> Callable[..., Any]:
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        module = importlib.import_module(module_name)  # our own entries: a failure is a bug
        return getattr(module, attr)


def import_target(
    target: str, *, what: str = "factory", error: type[ConfigError] = ConfigError
) -> Callable[..., Any]:
    """Import ``"package.module:attr"`` (a user's plugin: a custom embedder, a batch runner
    factory) and return the attribute; every failure is ``error`` naming ``what``, the target
    and the fix."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise error(f"{what} {target!r} must look like 'package.module:name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise error(f"{what} {target!r} cannot be imported: cannot import {module_name!r} ({e})") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise error(
            f"{what} {target!r} cannot be imported: module {module_name!r} has no attribute {attr!r}"
        ) from None
    if not callable(obj):
        raise error(f"{what} {target!r} is not callable")
    return obj


class Registry:
    """A name -> plugin factory mapping of one kind (samplers, compressors, ...)."""

    def __init__(self, kind: str, package: str | None = None) -> None:
        self.kind = kind
        self._package = package
        self._entries: dict[str, Entry] = {}
        self._loaded_package = package is None

    # -- registration -------------------------------------------------------------
    def register(self, name: str, target: str | Callable[..., Any], *, summary: str = "") -> None:
        """Register ``target`` (a callable, or ``"module:attr"`` imported on use) as ``name``."""
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad {self.kind} name {name!r}: use letters, digits, '_' or '-'")
        if name in self._entries and self._entries[name].target != target:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, target, summary)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plugin registered for a while, e.g. by a test)."""
        if self._entries.pop(name, None) is None:
            raise UnknownPluginError(f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}")

    def decorator(self, name: str, *, summary: str = "") -> Callable[[Any], Any]:
        def wrap(obj: Any) -> Any:
            self.register(name, obj, summary=summary)
            return obj

        return wrap

    # -- lookup ---------------------------------------------------------------------
    def _ensure_package(self) -> None:
        if not self._loaded_package and self._package:
            self._loaded_package = True
            importlib.import_module(self._package)

    def names(self) -> list[str]:
        self._ensure_package()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self._ensure_package()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: object) -> bool:
        self._ensure_package()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Callable[..., Any]:
        """The registered factory (class or function) for ``name``."""
        self._ensure_package()
        try:
            entry = self._entries[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none registered)"
            raise UnknownPluginError(f"unknown {self.kind} {name!r}; valid names: {valid}") from None
        return entry.load()

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Instantiate ``name`` with ``kwargs``; keyword arguments that are ``None`` are dropped
        so that unset CLI options fall back to the plugin's own defaults."""
        factory = self.get(name)
        return factory(**{k: v for k, v in kwargs.items() if v is not None})

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


SAMPLERS = Registry("sampler", "videopipe.samplers")
COMPRESSORS = Registry("compressor", "videopipe.compressors")
DECODERS = Registry("decoder", "videopipe.decode")
MODELS = Registry("model", "videopipe.models.entries")
EMBEDDERS = Registry("embedder", "videopipe.embedders")
EXECUTORS = Registry("executor", "videopipe.batch")

ALL_REGISTRIES: dict[str, Registry] = {
    "decoders": DECODERS,
    "samplers": SAMPLERS,
    "compressors": COMPRESSORS,
    "models": MODELS,
    "embedders": EMBEDDERS,
    "executors": EXECUTORS,
}
