"""The timed text of one video: subtitle cues, speech segments and screen text, each line tagged
with its source.

:class:`Timeline` is what the text stage hands to retrieval (the text of a clip's span) and to
the prompt (the lines of the sampled spans). It is plain data: frozen, JSON-able with
:meth:`Timeline.to_dict` / :meth:`Timeline.from_dict`, lines sorted by (start, end).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from videopipe.errors import ConfigError, InputError

__all__ = ["DEFAULT_TEXT_SOURCES", "Box", "TextLine", "TextSource", "Timeline", "parse_text_sources"]

#: a screen-text box: four (x, y) corners in pixels of the frame it was read from
Box = tuple[tuple[float, float], ...]


class TextSource(str, Enum):
    """Where a line of text came from."""

    subtitles = "subtitles"
    speech = "speech"
    screen = "screen"

    def __str__(self) -> str:  # "speech", not "TextSource.speech"
        return self.value


@dataclass(frozen=True)
class TextLine:
    """One timed line of text: shown or spoken from ``start_s`` to ``end_s`` (seconds from the
    first video frame). ``boxes`` (screen text only) are where the text was on the frame, for
    notebooks; empty for the other sources."""

    start_s: float
    end_s: float
    text: str
    source: TextSource
    boxes: tuple[Box, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise InputError(f"text line times must be finite, got {self.start_s}..{self.end_s}")
        if self.end_s < self.start_s:
            raise InputError(f"text line ends before it starts: {self.start_s}..{self.end_s} {self.text!r}")
        if not isinstance(self.source, TextSource):
            object.__setattr__(self, "source", TextSource(self.source))

    def overlaps(self, start_s: float, end_s: float) -> bool:
        """True when the line overlaps [start_s, end_s) (a zero-length line at ``t`` overlaps
        a span that contains ``t``)."""
        if self.end_s == self.start_s:
            return start_s <= self.start_s < end_s
        return self.start_s < end_s and self.end_s > start_s

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "text": self.text,
            "source": self.source.value,
        }
        if self.boxes:
            d["boxes"] = [[list(p) for p in box] for box in self.boxes]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextLine:
        boxes = tuple(tuple((float(x), float(y)) for x, y in box) for box in d.get("boxes", ()))
        return cls(float(d["start_s"]), float(d["end_s"]), str(d["text"]), TextSource(d["source"]), boxes)


@dataclass(frozen=True)
class Timeline:
    """Every text line of ``video`` in time order. ``notes`` say what was missing or skipped
    ("no audio track", "no subtitles", ...): non-fatal facts a user may want to see."""

    video: str
    lines: tuple[TextLine, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.lines, key=lambda ln: (ln.start_s, ln.end_s, ln.source.value)))
        object.__setattr__(self, "lines", ordered)
        object.__setattr__(self, "notes", tuple(self.notes))

    def __len__(self) -> int:
        return len(self.lines)

    def between(self, start_s: float, end_s: float) -> list[TextLine]:
        """The lines overlapping [start_s, end_s), in time order."""
        return [ln for ln in self.lines if ln.overlaps(start_s, end_s)]

    def text_between(self, start_s: float, end_s: float) -> str:
        """The text of the lines overlapping [start_s, end_s), joined by spaces."""
        return " ".join(ln.text for ln in self.between(start_s, end_s))

    @property
    def sources(self) -> tuple[TextSource, ...]:
        """The sources that gave at least one line, in :class:`TextSource` order."""
        present = {ln.source for ln in self.lines}
        return tuple(s for s in TextSource if s in present)

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "lines": [ln.to_dict() for ln in self.lines],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timeline:
        return cls(
            str(d["video"]),
            tuple(TextLine.from_dict(x) for x in d.get("lines", ())),
            tuple(str(n) for n in d.get("notes", ())),
        )


#: the sources used when none are named (``--text auto``)
DEFAULT_TEXT_SOURCES: tuple[TextSource, ...] = (TextSource.subtitles, TextSource.speech)


def parse_text_sources(spec: str | Iterable[str | TextSource]) -> tuple[TextSource, ...]:
    """``"subtitles,speech,screen"`` (any subset, any order), ``"none"`` or ``"auto"`` (the
    default sources) -> the sources in :class:`TextSource` order."""
    if isinstance(spec, str):
        parts = [p.strip().lower() for p in spec.split(",") if p.strip()]
    else:
        parts = [str(p).strip().lower() for p in spec]
    if parts in (["none"], []):
        return ()
    if parts == ["auto"]:
        return DEFAULT_TEXT_SOURCES
    valid = [s.value for s in TextSource]
    bad = [p for p in parts if p not in valid]
    if bad:
        raise ConfigError(
            f"text source {bad[0]!r} is not one of {', '.join(valid)} "
            "(comma-separated, e.g. 'subtitles,speech'; or 'none' or 'auto')"
        )
    chosen = set(parts)
    return tuple(s for s in TextSource if s.value in chosen)
