"""The driver's side of an indexing run: every video's result goes through the index's one
writer, progress is committed every N videos (and every S seconds), counted in the
:class:`~videopipe.retrieval.index_report.IndexReport` and shown as
:class:`~videopipe.retrieval.index_report.IndexProgress`. Results arrive in any order (from
workers); a content key is written once, its copies are reused."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.retrieval.index_report import (
    Embedded,
    IndexProgress,
    IndexReport,
    Outcome,
    ProgressFn,
    Reused,
    Unchanged,
)
from videopipe.retrieval.store import FileEntry

if TYPE_CHECKING:
    from videopipe.retrieval.parallel import VideoFailed
    from videopipe.retrieval.video_work import VideoClips

__all__ = ["IndexRun", "ToEmbed"]


@dataclass(frozen=True)
class ToEmbed:
    """A video whose content is not in the index: its key and the fields of its entry."""

    path: Path
    key: str
    fields: dict[str, Any]

    @property
    def sidecar(self) -> Path | None:
        return Path(self.fields["sidecar"]) if "sidecar" in self.fields else None


class IndexRun:
    """The driver's side of a run: every result goes through the one writer ``w``, progress is
    committed every ``commit_every`` videos (and every ``commit_every_s`` seconds), counted in
    the report and shown through ``progress``."""

    def __init__(
        self,
        w: Any,
        report: IndexReport,
        commit_every: int,
        commit_every_s: float,
        progress: ProgressFn | None,
    ) -> None:
        self.w, self.report, self.progress = w, report, progress
        self.commit_every, self.commit_every_s = commit_every, commit_every_s
        self.pending, self.last_commit = 0, time.monotonic()
        self.done = 0
        self.bytes_done = self.bytes_total = 0
        self.t_embed = time.perf_counter()
        self.groups: dict[str, list[ToEmbed]] = {}

    def start_embedding(self, todo: dict[str, list[ToEmbed]]) -> None:
        self.groups = todo
        self.bytes_total = sum(int(t.fields["size"]) for group in todo.values() for t in group)
        self.t_embed = time.perf_counter()

    def show(self, current: str) -> None:
        if self.progress is not None:
            self.progress(
                IndexProgress(
                    videos_done=self.done,
                    videos=self.report.videos,
                    media_s_done=self.report.media_s,
                    bytes_done=self.bytes_done,
                    bytes_total=self.bytes_total,
                    elapsed_s=time.perf_counter() - self.t_embed,
                    current=current,
                )
            )

    def outcome(self, path: str, outcome: Outcome) -> None:
        self.report.count(outcome)
        self.done += 1
        if not isinstance(outcome, Unchanged):
            self.pending += 1
        t0 = time.perf_counter()
        if self.w.dirty and (
            self.pending >= self.commit_every or time.monotonic() - self.last_commit >= self.commit_every_s
        ):
            self.w.commit()
            self.report.commits += 1
            self.pending, self.last_commit = 0, time.monotonic()
        self.report.add_stages({"write": time.perf_counter() - t0})
        self.show(path)

    def failed(self, path: str, message: str, error_type: str, tb: str = "") -> None:
        self.report.failed[path] = message  # it keeps its old entry, if any
        self.report.failed_types[path] = error_type
        if tb:
            self.report.tracebacks[path] = tb
        self.done += 1
        self.show(path)

    def video_failed(self, failure: VideoFailed) -> None:
        """A video (and its copies) that raised, or whose worker died twice."""
        for t in self.groups.pop(_key_of(self.groups, failure.path), []):
            self.bytes_done += int(t.fields["size"])
            msg = failure.message if str(t.path) == failure.path else f"{t.path}: a copy of {failure.message}"
            self.failed(str(t.path), msg, failure.error_type, failure.traceback)

    def clips(self, clips: VideoClips) -> None:
        """A video's clips: written once (a late duplicate is dropped), its copies reused."""
        group = self.groups.pop(clips.key, None)
        if group is None:
            return
        t0 = time.perf_counter()
        self.w.write_segment(
            clips.key,
            clips.starts_s,
            clips.ends_s,
            clips.texts,
            clips.vectors,
            sources=clips.sources,
            lines=clips.lines,
        )
        self.report.add_stages({**clips.stage_s, "write": time.perf_counter() - t0})
        self.report.media_s += clips.duration_s
        for i, t in enumerate(group):
            self.w.put(FileEntry(key=clips.key, n_clips=len(clips), **t.fields))
            self.bytes_done += int(t.fields["size"])
            self.outcome(str(t.path), Embedded(clips=len(clips)) if i == 0 else Reused())

    def finish(self) -> None:
        self.show("")


def _key_of(groups: dict[str, list[ToEmbed]], path: str) -> str:
    return next((k for k, g in groups.items() if str(g[0].path) == path), "")
