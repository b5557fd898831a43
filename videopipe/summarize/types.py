"""The result of ``summarize``: the summary, the spans it cites and every chunk's description."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Described", "Summary", "clock"]


def clock(t: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour)."""
    s = int(max(0.0, t))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Described:
    """A span of the video and what the model said about it (a chunk, or a reduced group)."""

    start_s: float
    end_s: float
    text: str

    @property
    def label(self) -> str:
        return f"[{clock(self.start_s)}-{clock(self.end_s)}]"

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "text": self.text}


@dataclass(frozen=True)
class Summary:
    """``text``: the model's summary; ``sections``: the spans it was made from (what it cites,
    each with its description); ``chunks``: every chunk's description; ``levels``: reduce rounds
    before the last (0: every chunk fitted one prompt); ``cached``: chunks read from the cache."""

    video: str
    text: str
    sections: tuple[Described, ...]
    chunks: tuple[Described, ...]
    levels: int = 0
    cached: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "summary": self.text,
            "sections": [s.to_dict() for s in self.sections],
            "chunks": [c.to_dict() for c in self.chunks],
            "levels": self.levels,
            "cached": self.cached,
            "notes": list(self.notes),
        }
