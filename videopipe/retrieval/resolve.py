"""Turn an embedder spec (registry name, ``"module:attr"``, or an instance) into an embedder."""

from __future__ import annotations

from typing import Any

from videopipe.errors import ConfigError, UnknownPluginError


def embedder_options(embedder: Any) -> dict[str, Any]:
    """Constructor options an index records to recreate ``embedder`` for queries: its
    ``model_id`` when it is not the default one."""
    import inspect

    model_id = embedder.model_id
    if model_id is None:
        return {}
    try:
        default = inspect.signature(type(embedder)).parameters["model_id"].default
    except (KeyError, TypeError, ValueError):
        default = inspect.Parameter.empty
    return {} if str(model_id) == str(default) else {"model_id": str(model_id)}


def embedder_name(embedder: Any) -> str:
    """The spec an index records for an embedder object: its ``EMBEDDERS`` name when its
    class is registered, else its ``module:Class`` import path (so that the index can
    recreate it for queries)."""
    from videopipe.registry import EMBEDDERS

    cls = type(embedder)
    target = f"{cls.__module__}:{cls.__qualname__}"
    for entry in EMBEDDERS.entries():
        if entry.target == target or entry.target is cls:
            return entry.name
    return target


def resolve_embedder(spec: str | Any, **kwargs: Any) -> tuple[str, Any]:
    """``(name, embedder)`` for ``spec``: an ``EMBEDDERS`` name (``text``, ``clip``, ...), a
    ``"package.module:Class"`` import path (custom embedders), or an embedder object."""
    from videopipe.registry import EMBEDDERS, import_target

    if not isinstance(spec, str):
        missing = [a for a in ("space", "dim", "embed_texts", "modality", "model_id") if not hasattr(spec, a)]
        if missing:
            raise ConfigError(
                f"{spec!r} is not an embedder (it has no {', '.join(missing)}); an embedder follows "
                "videopipe.protocols.Embedder (subclass it to get the defaults of modality and model_id)"
            )
        return embedder_name(spec), spec
    if not spec.strip():
        raise ConfigError("embedder name is empty; valid names: " + ", ".join(EMBEDDERS.names()))
    if ":" in spec:
        try:
            factory = import_target(spec, what="embedder", error=UnknownPluginError)
        except UnknownPluginError as e:
            raise UnknownPluginError(
                f"{e}; or use a registered name ({', '.join(EMBEDDERS.names())})"
            ) from None
        emb = factory(**{k: v for k, v in kwargs.items() if v is not None})
    else:
        emb = EMBEDDERS.create(spec, **kwargs)
    return spec, emb
