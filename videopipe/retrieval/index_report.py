"""What an indexing run did: the outcome of each video, the run's :class:`IndexReport`, the
one-line failure of a video, and the progress over the whole folder (:class:`IndexProgress`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from videopipe.errors import VideoPipeError

__all__ = [
    "Embedded",
    "IndexProgress",
    "IndexReport",
    "Outcome",
    "ProgressFn",
    "Reused",
    "Touched",
    "Unchanged",
    "failure_message",
]


# -- what indexing one video did (IndexReport.count) -------------------------------------------
@dataclass(frozen=True)
class Unchanged:
    """Same size and mtime as indexed: nothing was read."""


@dataclass(frozen=True)
class Touched:
    """The stat changed, the content did not: only the stat was updated."""


@dataclass(frozen=True)
class Reused:
    """The content was indexed already (a copy, or a killed run's work): no embedding."""


@dataclass(frozen=True)
class Embedded:
    """New or changed content, segmented and embedded into ``clips`` clips."""

    clips: int


Outcome = Unchanged | Touched | Reused | Embedded


@dataclass
class IndexReport:
    """What an indexing run did (counts of videos unless named ``clips``)."""

    index_dir: str
    version: int = 0
    videos: int = 0
    embedded: int = 0
    reused: int = 0
    touched: int = 0
    unchanged: int = 0
    removed: int = 0
    clips_embedded: int = 0
    total_clips: int = 0
    without_clips: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # path -> one line naming the file
    failed_types: dict[str, str] = field(default_factory=dict)  # path -> exception class name
    repaired: list[str] = field(default_factory=list)  # damaged index files and what was done
    notes: list[str] = field(default_factory=list)  # e.g. a text source that "auto" left out
    index_kind: str = ""
    index: dict[str, Any] = field(default_factory=dict)  # kind, params, recall_at_10, ms_per_query
    commits: int = 0
    executor: str = "serial"  # "serial" (this process), or the executor's description
    workers: int = 1
    seconds: float = 0.0  # the run's wall time
    media_s: float = 0.0  # seconds of media embedded by this run
    stage_s: dict[str, float] = field(default_factory=dict)  # seconds per stage (workers' summed)
    tracebacks: dict[str, str] = field(default_factory=dict, repr=False)  # path -> traceback (not in to_dict)

    def count(self, outcome: Outcome) -> None:
        """Add what indexing one video did."""
        match outcome:
            case Unchanged():
                self.unchanged += 1
            case Touched():
                self.touched += 1
            case Reused():
                self.reused += 1
            case Embedded(clips=clips):
                self.embedded += 1
                self.clips_embedded += clips

    def add_stages(self, seconds: Mapping[str, float]) -> None:
        """Add seconds per stage (a video's, from its worker, or the driver's own)."""
        for k, v in seconds.items():
            self.stage_s[k] = self.stage_s.get(k, 0.0) + float(v)

    @property
    def media_hours_per_hour(self) -> float:
        """Throughput: hours of media embedded per hour of this run's wall time."""
        return self.media_s / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "tracebacks":
                out[f.name] = v.copy() if isinstance(v, (list, dict)) else v
        out["stage_s"] = {k: round(v, 3) for k, v in self.stage_s.items()}
        out["media_hours_per_hour"] = round(self.media_hours_per_hour, 2)
        return out


_FFMPEG_CONTEXT = re.compile(r"\[[^\]\n]* @ 0x[0-9a-fA-F]+\]\s*")  # "[mov,mp4,... @ 0x55d4...] "


def failure_message(video: Path, error: BaseException, *, max_chars: int = 500) -> str:
    """One line for an index report that names ``video`` once: ffmpeg's ``[demuxer @ 0x...]``
    prefixes and repeated ``path:`` line prefixes removed, lines joined with ``; ``, the
    exception type added when it is not a :class:`~videopipe.errors.VideoPipeError`."""
    path = str(video)
    lines: list[str] = []
    for raw in str(error).splitlines():
        line = _FFMPEG_CONTEXT.sub("", raw).strip()
        while line.startswith(path + ":") and line[len(path) + 1 :].strip():
            line = line[len(path) + 1 :].strip()
        if line and (not lines or lines[-1] != line):
            lines.append(line)
    text = "; ".join(lines) or "(no message)"
    if not isinstance(error, VideoPipeError):
        text = f"{type(error).__name__}: {text}"
    head, sep, tail = text.partition(path)
    text = head + sep + tail.replace(path, video.name) if sep else f"{path}: {text}"
    return text if len(text) <= max_chars else text[: max_chars - 3] + "..."


@dataclass(frozen=True)
class IndexProgress:
    """Where a run is, over the whole folder: videos done (any outcome) of ``videos``; of the
    videos to embed, ``bytes_done`` of ``bytes_total`` and ``media_s_done`` seconds of media,
    ``elapsed_s`` after embedding started; ``current``: the video that just finished or
    started ("" at the end)."""

    videos_done: int
    videos: int
    media_s_done: float = 0.0
    bytes_done: int = 0
    bytes_total: int = 0
    elapsed_s: float = 0.0
    current: str = ""

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the bytes-per-second rate so far (None before the first video)."""
        if self.bytes_done <= 0 or self.elapsed_s <= 0:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done


ProgressFn = Callable[[IndexProgress], None]
