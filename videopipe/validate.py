"""The option validators every stage uses (samplers, compressors): one spelling of each check,
raising :class:`~videopipe.errors.ConfigError` that names the option, the rule and the value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videopipe.errors import ConfigError

__all__ = ["choice", "in_range", "positive"]


def positive(
    name: str, value: float | int | None, *, allow_zero: bool = False, allow_none: bool = False
) -> None:
    """``value`` > 0 (or >= 0 with ``allow_zero``); None only with ``allow_none``."""
    if value is None:
        if allow_none:
            return
        raise ConfigError(f"{name} must be set")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def in_range(name: str, value: float, lo: float, hi: float) -> None:
    """``lo <= value <= hi``."""
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value!r}")


def choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(map(str, allowed))}")
