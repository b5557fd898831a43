"""The option validators every stage uses (samplers, compressors): one spelling of each check,
raising :class:`~videopipe.errors.ConfigError` that names the option, the rule and the value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from videopipe.errors import ConfigError

__all__ = ["choice", "finite", "in_range", "positive"]


def finite(name: str, value: float | int) -> None:
    """``value`` is a number, not NaN or infinite (every comparison with NaN is False, so a
    range check alone lets it through)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")


def positive(
    name: str, value: float | int | None, *, allow_zero: bool = False, allow_none: bool = False
) -> None:
    """``value`` > 0 (or >= 0 with ``allow_zero``); None only with ``allow_none``."""
    if value is None:
        if allow_none:
            return
        raise ConfigError(f"{name} must be set")
    finite(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def in_range(name: str, value: float, lo: float, hi: float) -> None:
    """``lo <= value <= hi``."""
    finite(name, value)
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value!r}")


def choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(map(str, allowed))}")


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def field_types(obj: Any) -> None:
    """Every field of the dataclass instance ``obj`` holds a value of its annotated type
    (``str``, ``int``, ``float``, ``bool``, ``X | None``; floats finite); else a ConfigError that
    names the field, the type wanted and the value. The types are read from the class's own
    annotations, so a new field is checked without a new line here. Other annotations (a
    dataclass, a list, ...) are not checked."""
    import dataclasses
    import types
    import typing

    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        hint = hints.get(f.name)
        allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if value is None and type(None) in allowed:
            continue
        simple = [t for t in allowed if t in _TYPE_NAMES]
        if not simple or len(simple) < len([t for t in allowed if t is not type(None)]):
            continue  # an annotation this check does not know: left to the class
        if not any(_is_a(value, t) for t in simple):
            wanted = " or ".join(_TYPE_NAMES[t] for t in simple)
            if type(None) in allowed:
                wanted += " (or unset)"
            raise ConfigError(f"{f.name} must be {wanted}, got {value!r}")
        if isinstance(value, float):
            finite(f.name, value)


def _is_a(value: Any, t: type) -> bool:
    if t is bool or isinstance(value, bool):  # True is an int to Python, not to a config file
        return t is bool and isinstance(value, bool)
    if t is float:
        return isinstance(value, (int, float))
    return isinstance(value, t)
