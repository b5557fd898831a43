"""The result of ``locate``: :class:`Span` s best first, each with the lines that matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Evidence", "Located", "Span"]


@dataclass(frozen=True)
class Evidence:
    """A line that matched the query: its span, text, source (speech, subtitles, screen) and
    cosine similarity to the query."""

    start_s: float
    end_s: float
    text: str
    source: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "text": self.text,
            "source": self.source,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Span:
    """Where the query happens: ``start_s`` .. ``end_s``, ``score`` (higher is better: the best
    line's similarity to the query less its hubness, :mod:`videopipe.locate.search`) and
    ``evidence`` (best line first)."""

    start_s: float
    end_s: float
    score: float
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "score": round(self.score, 4),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Located:
    """The spans of ``video`` that match ``query``, best first."""

    video: str
    query: str
    spans: tuple[Span, ...]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "query": self.query,
            "spans": [s.to_dict() for s in self.spans],
            "notes": list(self.notes),
        }
