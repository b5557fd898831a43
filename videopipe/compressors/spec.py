"""Compressor specs as users write them: ``name``, ``name[option=value,...]`` and chains of
those joined by ``+`` (``"static_prune[threshold=0.97]+segment_merge"``).

Option values are text (from the CLI, a TOML file or Python) and are converted to the type
the compressor's config dataclass declares for that option: ``int``, ``float``, ``bool``
(``true``/``false``/``1``/``0``/``yes``/``no``), ``str``, or ``none`` for an optional one.
A wrong name, type or value is a :class:`~videopipe.errors.ConfigError` that names the
option and lists the valid ones.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from typing import Any, Union

from videopipe.errors import ConfigError

__all__ = ["parse_spec", "split_specs", "option_values"]

_PART = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s*(?:\[(.*)\])?\s*$", re.S)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def split_specs(text: str) -> list[str]:
    """``"a,b[x=1,y=2],c+d"`` -> ``["a", "b[x=1,y=2]", "c+d"]``: commas inside brackets
    belong to the options."""
    return [s.strip() for s in _split_outside_brackets(text, ",") if s.strip()]


def _split_outside_brackets(text: str, sep: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def parse_spec(spec: str) -> list[tuple[str, dict[str, str]]]:
    """The stages of a spec, each ``(name, {option: text value})``, in chain order."""
    parts = _split_outside_brackets(spec, "+")
    if not spec.strip() or any(not p.strip() for p in parts):
        raise ConfigError(
            f"bad compressor spec {spec!r}: use a name, name[option=value,...], or those joined by "
            "'+' (e.g. static_prune+segment_merge)"
        )
    stages = []
    for part in parts:
        m = _PART.match(part)
        if not m:
            raise ConfigError(
                f"bad compressor spec {part.strip()!r} in {spec!r}: write name or name[option=value,...]"
            )
        name, body = m.group(1), m.group(2)
        options: dict[str, str] = {}
        for item in split_specs(body or ""):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"bad option {item!r} in compressor spec {spec!r}: write option=value")
            if key in options:
                raise ConfigError(f"option {key!r} given twice in compressor spec {spec!r}")
            options[key] = value.strip()
        stages.append((name, options))
    return stages


def option_values(name: str, factory: Any, options: dict[str, str]) -> dict[str, Any]:
    """``options`` converted to the types of ``factory.config_class`` (a compressor class)."""
    if not options:
        return {}
    config_class = getattr(factory, "config_class", None)
    if config_class is None or not dataclasses.is_dataclass(config_class):
        raise ConfigError(f"compressor {name!r} takes no options in a spec; configure it in Python")
    hints = typing.get_type_hints(config_class)
    valid = {f.name for f in dataclasses.fields(config_class)}
    out: dict[str, Any] = {}
    for key, text in options.items():
        if key not in valid:
            raise ConfigError(
                f"{name}: unknown option {key!r}; valid options: {', '.join(sorted(valid)) or '(none)'}"
            )
        out[key] = _convert(name, key, text, hints.get(key, str))
    return out


def _convert(name: str, key: str, text: str, hint: Any) -> Any:
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args
    if optional:
        if text.lower() in ("none", "null", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is typing.Literal:
        choices = [str(c) for c in typing.get_args(hint)]
        if text not in choices:
            raise ConfigError(f"{name}: option {key}={text!r} must be one of {', '.join(choices)}")
        return text
    try:
        if hint is bool:
            low = text.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError
            return low in _TRUE
        if hint is int:
            return int(text)
        if hint is float:
            value = float(text)
            if not math.isfinite(value):  # NaN passes every range check
                raise ConfigError(f"{name}: option {key}={text!r} must be a finite number")
            return value
    except ValueError:
        want = {bool: "true or false", int: "an integer", float: "a number"}[hint]
        raise ConfigError(f"{name}: option {key}={text!r} must be {want}") from None
    return text
