"""Turn an embedder spec (registry name, ``"module:attr"``, or an instance) into an embedder."""

from __future__ import annotations

import importlib
from typing import Any

from videopipe.errors import ConfigError, UnknownPluginError


def embedder_name(embedder: Any) -> str:
    """The spec an index records for an embedder object: its ``EMBEDDERS`` name when its
    class is registered, else its ``module:Class`` import path (so that the index can
    recreate it for queries)."""
    from videopipe.registry import EMBEDDERS

    given = getattr(embedder, "registry_name", None)
    if given:
        return str(given)
    cls = type(embedder)
    target = f"{cls.__module__}:{cls.__qualname__}"
    for entry in EMBEDDERS.entries():
        if entry.target == target or entry.target is cls:
            return entry.name
    return target


def resolve_embedder(spec: str | Any, **kwargs: Any) -> tuple[str, Any]:
    """``(name, embedder)`` for ``spec``: an ``EMBEDDERS`` name (``text``, ``clip``, ...), a
    ``"package.module:Class"`` import path (custom embedders), or an embedder object."""
    from videopipe.registry import EMBEDDERS

    if not isinstance(spec, str):
        for attr in ("space", "embed_texts"):
            if not hasattr(spec, attr):
                raise ConfigError(f"{spec!r} is not an embedder (it has no {attr!r})")
        return embedder_name(spec), spec
    if not spec.strip():
        raise ConfigError("embedder name is empty; valid names: " + ", ".join(EMBEDDERS.names()))
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise UnknownPluginError(
                f"embedder {spec!r} cannot be imported ({e}); use a registered name "
                f"({', '.join(EMBEDDERS.names())}) or 'package.module:Class'"
            ) from None
        emb = factory(**{k: v for k, v in kwargs.items() if v is not None})
    else:
        emb = EMBEDDERS.create(spec, **kwargs)
    try:
        emb.registry_name = spec
    except AttributeError:  # slotted/frozen embedders keep their class name
        pass
    return spec, emb
