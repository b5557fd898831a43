"""``ValueEnum``: a ``str`` enum that prints as its value (``enum.StrEnum`` needs Python 3.11),
so modes stored on disk or shown to users as text stay the same strings."""

from __future__ import annotations

from enum import Enum

__all__ = ["ValueEnum"]


class ValueEnum(str, Enum):
    """A ``str`` enum: equal to its value, ``str()`` and f-strings give the value."""

    def __str__(self) -> str:  # "random", not "Access.RANDOM"
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
