"""Reading the index's JSON files back into records, checked.

Every field is checked against the type its dataclass declares (``dataclasses.fields`` plus
the type hints), so a field added to a record is checked from then on: there is no table of
types to keep beside the records. A JSON number is an ``int`` or ``float`` field's value when it
is finite and not a boolean; ``dict[K, V]`` checks its keys and values; ``X | None`` either."""

from __future__ import annotations

import json
import math
import re
import types
from dataclasses import fields
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from videopipe.retrieval.store.damage import Problem, describe
from videopipe.retrieval.store.records import FORMAT, FaissMeta, FileEntry, IndexConfig, Manifest

R = TypeVar("R")
_HEX = frozenset("0123456789abcdef")
_VERSION = re.compile(r"[0-9]{1,12}")  # a writer commits far fewer than 10**12 times


def fits(value: Any, hint: Any) -> bool:
    """True when a value read from JSON has the type ``hint`` (a record field's type)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(fits(value, h) for h in get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    if hint in (int, str):
        return isinstance(value, hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return isinstance(value, hint)  # a record's __post_init__ made it one from its value
    if origin is dict:
        k, v = get_args(hint)
        return isinstance(value, dict) and all(fits(a, k) and fits(b, v) for a, b in value.items())
    raise TypeError(f"no JSON check for the field type {hint!r}; add one to fits()")


@cache
def field_types(cls: type) -> dict[str, Any]:
    """The declared type of every field of the record ``cls``."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def from_json(cls: type[R], data: Any, what: str) -> R:
    """``cls(**data)`` with every field of its declared type, else :class:`Problem`."""
    if not isinstance(data, dict):
        raise Problem(f"has {what} that is not a JSON object ({type(data).__name__})")
    try:
        obj = cls(**data)
    except (TypeError, ValueError) as e:  # ValueError: an enum field given a value it lacks
        raise Problem(f"has a malformed {what} ({e})") from None
    for name, hint in field_types(cls).items():
        v = getattr(obj, name)
        if not fits(v, hint):
            raise Problem(f"has a malformed {what} ({name} = {repr(v)[:60]})")
    return obj


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Problem(f"is not valid JSON, truncated? ({describe(e)})") from None


def parse_version(text: str) -> int | None:
    """The snapshot version ``text`` names ("17", "00000017"), or None when it names none."""
    return (int(text) or None) if _VERSION.fullmatch(text) else None


#: what ``embedder_options`` may hold (:func:`videopipe.retrieval.resolve.embedder_options`
#: records these, as strings): a config is data, it never passes anything else to a constructor
RECORDED_EMBEDDER_OPTIONS = frozenset({"model_id"})


def parse_config(data: Any) -> IndexConfig:
    cfg = from_json(IndexConfig, data, "config")
    if cfg.dim < 1:
        raise Problem(f"has a malformed config (dim = {cfg.dim})")
    opts = cfg.embedder_options
    if set(opts) - RECORDED_EMBEDDER_OPTIONS or not all(isinstance(v, str) for v in opts.values()):
        raise Problem(
            f"has a malformed config (embedder_options = {str(opts)[:60]!r}; only a string "
            f"{', '.join(sorted(RECORDED_EMBEDDER_OPTIONS))} is recorded)"
        )
    return cfg


def parse_entry(data: Any) -> FileEntry:
    e = from_json(FileEntry, data, "file entry")
    if len(e.key) != 40 or not set(e.key) <= _HEX or e.n_clips < 0:
        raise Problem(f"has a malformed file entry for {e.path} (key {e.key[:48]!r}, {e.n_clips} clips)")
    return e


def parse_manifest(raw: bytes, version: int) -> Manifest:
    data = parse_json(raw)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise Problem("is not a snapshot manifest (no list of 'entries')")
    if data.get("format") != FORMAT or data.get("version", version) != version:
        raise Problem(f"is not snapshot {version} of format {FORMAT} (format {data.get('format')!r})")
    fm, cfg = data.get("faiss"), data.get("config")
    return Manifest(
        version=version,
        entries=[parse_entry(e) for e in data["entries"]],
        faiss=from_json(FaissMeta, fm, "FAISS record") if fm is not None else None,
        config=parse_config(cfg) if cfg is not None else None,
    )
