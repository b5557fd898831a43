"""The result of ``chapters``: :class:`Chapter` spans with titles, in time order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chapter", "Chapters"]


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``start_s`` .. ``end_s`` (the next chapter's start, or the video's end) and
    its title. ``signals`` say what put a boundary at ``start_s`` (``text``, ``screen``, ``cut``;
    empty for the first chapter)."""

    start_s: float
    end_s: float
    title: str
    signals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "title": self.title,
            "signals": list(self.signals),
        }


@dataclass(frozen=True)
class Chapters:
    """The chapters of ``video`` (they tile 0 .. ``duration_s``); ``titles`` is how they were
    named (``extract`` or ``model``); ``notes`` are non-fatal facts (no speech, no slides...)."""

    video: str
    duration_s: float
    chapters: tuple[Chapter, ...]
    titles: str = "extract"
    notes: tuple[str, ...] = field(default=())

    @property
    def boundaries(self) -> list[float]:
        """Where each chapter after the first starts."""
        return [c.start_s for c in self.chapters[1:]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration_s": round(self.duration_s, 3),
            "titles": self.titles,
            "chapters": [c.to_dict() for c in self.chapters],
            "notes": list(self.notes),
        }
