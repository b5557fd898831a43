"""The driver's side of an indexing run: every video's result goes through the index's one
writer, progress is committed every N videos (and every S seconds), counted in the
:class:`~videopipe.retrieval.index_report.IndexReport` and shown as
:class:`~videopipe.retrieval.index_report.IndexProgress`. Results arrive in any order (from
workers); a content key is written once: a copy whose clips arrive after its content was
written is reused."""

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
    Touched,
    Unchanged,
)
from videopipe.retrieval.store import FileEntry

if TYPE_CHECKING:
    from videopipe.retrieval.parallel import VideoFailed
    from videopipe.retrieval.video_work import KnownContent, VideoClips

__all__ = ["IndexRun", "ToCheck"]


@dataclass(frozen=True)
class ToCheck:
    """A video that is new or whose stat differs from its entry: the fields of its new entry
    (path, size, mtime, sidecar); hashing its content decides whether it is touched, reused or
    embedded (:func:`~videopipe.retrieval.video_work.work_video`)."""

    path: Path
    fields: dict[str, Any]


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
        self.todo: dict[str, ToCheck] = {}

    def start(self, todo: dict[str, ToCheck]) -> None:
        """The videos to check (by path), known from their stat alone: the progress (bytes of
        all of them) shows now, before the first is hashed."""
        self.todo = todo
        self.bytes_total = sum(int(t.fields["size"]) for t in todo.values())
        self.t_embed = time.perf_counter()
        self.show("")

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
        """A video that raised, or whose worker died twice."""
        t = self.todo.pop(failure.path, None)
        if t is not None:
            self.bytes_done += int(t.fields["size"])
            self.failed(str(t.path), failure.message, failure.error_type, failure.traceback)

    def known(self, found: KnownContent) -> None:
        """A video whose content the index holds: touched (its entry had this content) or reused."""
        t = self.todo.pop(found.path, None)
        if t is not None:
            self.report.add_stages(found.stage_s)
            self._known(t, found.key)

    def _known(self, t: ToCheck, key: str) -> None:
        old = self.w.entries.get(str(t.path))
        self.w.put(FileEntry(key=key, n_clips=self.w.segment_clip_count(key), **t.fields))
        self.bytes_done += int(t.fields["size"])
        self.outcome(str(t.path), Touched() if old is not None and old.key == key else Reused())

    def clips(self, clips: VideoClips) -> None:
        """A video's clips, written as its content's segment -- unless a copy's clips were
        written first (two copies on two workers at once): then it is reused."""
        t = self.todo.pop(clips.path, None)
        if t is None:
            return
        if self.w.has_segment(clips.key):
            self.report.add_stages(clips.stage_s)
            self._known(t, clips.key)
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
        self.w.put(FileEntry(key=clips.key, n_clips=len(clips), **t.fields))
        self.bytes_done += int(t.fields["size"])
        self.outcome(str(t.path), Embedded(clips=len(clips)))

    def finish(self) -> None:
        self.show("")
