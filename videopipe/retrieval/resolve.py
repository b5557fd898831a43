"""Turn an embedder spec into an embedder, through one of two doors kept apart on purpose
(see docs/security.md):

- :func:`resolve_embedder`: a spec the *user* gave (a CLI option, a Python argument): a
  registered ``EMBEDDERS`` name, a ``"package.module:Class"`` import path (imported, and
  checked to be an embedder class or a declared embedder factory *before* it is called), or an
  embedder object.
- :func:`index_embedder`: the embedder an index folder *recorded* (``videopipe-index.json``).
  Only registered names are created from it; an import path found there is never imported:
  the user gives the same spec again (``--embedder``) or the embedder object.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.errors import ConfigError, IndexStoreError, UnknownPluginError

if TYPE_CHECKING:
    from videopipe.retrieval.store import IndexConfig

_EMBEDDER_ATTRS = ("space", "dim", "embed_texts", "modality", "model_id")
_EMBEDDER_METHODS = ("embed_texts",)  # what a class given as an embedder must define itself


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
    """``(name, embedder)`` for a spec the user gave: an ``EMBEDDERS`` name (``text``,
    ``clip``, ...), a ``"package.module:Class"`` import path (custom embedders), or an
    embedder object. Never call it with a spec read from a file: see :func:`index_embedder`."""
    from videopipe.registry import EMBEDDERS

    if not isinstance(spec, str):
        return embedder_name(check_embedder(spec)), spec
    if not spec.strip():
        raise ConfigError("embedder name is empty; valid names: " + ", ".join(EMBEDDERS.names()))
    if ":" in spec:
        factory = _embedder_factory(spec)
        emb = check_embedder(factory(**{k: v for k, v in kwargs.items() if v is not None}), spec)
    else:
        emb = EMBEDDERS.create(spec, **kwargs)
    return spec, emb


def check_embedder(emb: Any, spec: str | None = None) -> Any:
    """``emb`` when it has what :class:`videopipe.protocols.Embedder` needs, else a
    :class:`~videopipe.errors.ConfigError` naming what it lacks."""
    missing = [a for a in _EMBEDDER_ATTRS if not hasattr(emb, a)]
    if missing:
        made = f"embedder {spec!r} made {type(emb).__name__} {str(emb)[:60]!r}, which" if spec else repr(emb)
        raise ConfigError(
            f"{made} is not an embedder (it has no {', '.join(missing)}); an embedder follows "
            "videopipe.protocols.Embedder (subclass it to get the defaults of modality and model_id)"
        )
    return emb


def _embedder_factory(spec: str) -> Callable[..., Any]:
    """The class (or declared factory) an import path the user gave names, imported but not
    yet called; anything else is refused before it is called."""
    from videopipe.protocols import EMBEDDER_FACTORY_MARK
    from videopipe.registry import EMBEDDERS, import_target

    try:
        target = import_target(spec, what="embedder", error=UnknownPluginError)
    except UnknownPluginError as e:
        raise UnknownPluginError(f"{e}; or use a registered name ({', '.join(EMBEDDERS.names())})") from None
    if inspect.isclass(target) and all(callable(getattr(target, a, None)) for a in _EMBEDDER_METHODS):
        return target
    if getattr(target, EMBEDDER_FACTORY_MARK, False) is True:
        return target
    kind = "class" if inspect.isclass(target) else type(target).__name__.replace("_", " ")
    lacks = " without embed_texts" if inspect.isclass(target) else ""
    raise ConfigError(
        f"embedder {spec!r} is a {kind}{lacks}, not an embedder; give a class that follows "
        "videopipe.protocols.Embedder (space, dim, embed_texts, embed_images) or a function "
        "decorated with @videopipe.protocols.embedder_factory"
    )


def index_embedder(
    recorded: IndexConfig,
    config_file: str | Path,
    given: str | Any | None = None,
    *,
    options: Mapping[str, Any] | None = None,
) -> tuple[str, Any]:
    """``(name, embedder)`` that queries or extends the index whose config ``config_file``
    recorded as ``recorded``.

    given:   what the user passed (a spec or an embedder object; None: nothing), resolved by
             :func:`resolve_embedder`. None: the recorded embedder, which must be a
             registered ``EMBEDDERS`` name -- a recorded import path is never imported
             (:class:`~videopipe.errors.IndexStoreError` saying what to pass instead).
    options: constructor options the user gave; None: the recorded ones (plain strings,
             checked when the config was read) when ``given`` is the recorded spec or None."""
    from videopipe.registry import EMBEDDERS

    same = given is None or (isinstance(given, str) and given == recorded.embedder)
    opts = dict(options if options is not None else recorded.embedder_options if same else {})
    if given is not None:
        return resolve_embedder(given, **opts)
    check_recorded_embedder(recorded, config_file)
    return recorded.embedder, EMBEDDERS.create(recorded.embedder, **opts)


def check_recorded_embedder(recorded: IndexConfig, config_file: str | Path) -> None:
    """:class:`~videopipe.errors.IndexStoreError` unless the embedder ``config_file`` recorded
    is a registered ``EMBEDDERS`` name (checked without creating it, e.g. when a server starts)."""
    from videopipe.registry import EMBEDDERS

    if recorded.embedder in EMBEDDERS:
        return
    spec = recorded.embedder[:200]
    shown = spec if spec.isprintable() and not any(c.isspace() for c in spec) else repr(spec)
    raise IndexStoreError(
        f"{config_file} names embedder {spec!r}, which is not a registered embedder "
        f"({', '.join(EMBEDDERS.names())}); videopipe never imports code an index folder names: "
        f"if you trust it, pass it yourself (--embedder {shown} to search or index, or the embedder "
        "object in Python)"
    )
