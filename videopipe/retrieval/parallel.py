"""Index on several processes: the per-video work on an executor of ``videopipe batch`` (local
worker processes or Ray actors), the index writer in the driver.

Each video to check (new, or its stat changed) is one :class:`~videopipe.batch.jobs.VideoTask`
by path: the driver reads no video's bytes. A worker builds the index options once
(:func:`index_runner`, from the same :class:`IndexOptions` and stored config as the driver,
checked to give the same :class:`~videopipe.retrieval.store.IndexConfig`, and the content keys
of the index's segments when the run started) and answers each task with
:func:`~videopipe.retrieval.video_work.work_video`: the video hashed, then a
:class:`KnownContent` (the index holds that content: touched or reused) or its
:class:`VideoClips` -- or a :class:`VideoFailed` line when the video raised. Two copies of new
content on two workers at once are both embedded; the writer keeps the first and reuses it. The executor's own guarantees hold: a worker
that dies costs its video one retry (then a ``WorkerCrashed`` error record, which becomes the
video's failure line); the run goes on. The driver commits what comes back through the store's
single writer.

Threads: ``workers`` processes on one machine share its cores; each gets ``cores // workers``
threads for torch, the speech model (CTranslate2), the OCR model (onnxruntime) and the
decoder. On Ray an actor holds one CPU (Ray sets ``OMP_NUM_THREADS``), and uses that.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.batch.jobs import Job, JobSpec, Payload, VideoTask, job_id
from videopipe.errors import ConfigError
from videopipe.retrieval.store import IndexConfig
from videopipe.retrieval.video_work import KnownContent, ModelsOnce, VideoClips, work_video

if TYPE_CHECKING:
    from videopipe.batch.run import Executor
    from videopipe.retrieval.indexer import IndexOptions, ResolvedIndexOptions

__all__ = ["VideoFailed", "auto_workers", "index_runner", "index_spec", "run_on_executor"]

#: measured (benchmarks/results/index_scale*.md, 2 cores): two workers of one thread each index
#: a folder of talks 1.4x (speech) to 1.8x (speech + screen text) faster than one worker with two
#: threads -- the small speech, OCR and text models gain little from a second thread -- so
#: ``--workers auto`` starts one per core ...
THREADS_PER_WORKER = 1
#: ... but only as many as get this many videos each: a worker loads its own models first
#: (measured 20-40 s on the loaded machine, several videos' worth)
VIDEOS_PER_WORKER = 4


def auto_workers(videos: int, cores: int | None = None) -> int:
    """``--workers`` when not given: one per :data:`THREADS_PER_WORKER` cores, and no more than
    one per :data:`VIDEOS_PER_WORKER` videos to embed (at least 1: this process)."""
    by_cores = (cores or os.cpu_count() or 1) // THREADS_PER_WORKER
    return max(1, min(by_cores, videos // VIDEOS_PER_WORKER))


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Each local worker's share of the cores (workers x threads <= cores, at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


@dataclass(frozen=True)
class VideoFailed:
    """A video whose work raised in a worker: the report's one line and the exception type."""

    path: str
    message: str
    error_type: str
    traceback: str = ""


class IndexRunner:
    """A worker's runner: ``runner(video, stat)`` -> the video's :class:`VideoClips`,
    :class:`KnownContent` (a content key in ``known``) or :class:`VideoFailed` (a
    :class:`Payload`)."""

    def __init__(self, resolved: ResolvedIndexOptions, threads: int, known: frozenset[str]) -> None:
        self.resolved = resolved
        self.threads = threads
        self.known = known
        self.models = ModelsOnce(resolved, threads=threads)

    def __call__(self, video: str, stat: str, /) -> Payload:
        from videopipe.retrieval.index_report import failure_message

        path = Path(video)
        try:
            found = work_video(
                path, self.known, self.resolved, before_embed=self.models.load, threads=self.threads
            )
        except Exception as e:  # noqa: BLE001 - one bad video never aborts the run
            return Payload(
                VideoFailed(
                    video, failure_message(path, e), type(e).__name__, "".join(traceback.format_exception(e))
                )
            )
        if isinstance(found, VideoClips):
            found.stage_s.update(self.models.take_seconds())
        return Payload(found)


def index_runner(
    *,
    options: IndexOptions,
    existing: IndexConfig | None,
    index_dir: str,
    index_config: IndexConfig,
    threads: int,
    known: frozenset[str] = frozenset(),
) -> IndexRunner:
    """Build a worker's runner: the driver's options resolved here, which must give the
    driver's config (else a worker lacks an extra or a model the driver has). ``threads``:
    this worker's share of the cores (0: as the executor set torch's); ``known``: the content
    keys of the index's segments (a video with one of them is not embedded again)."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
        from videopipe.decode.workers import set_decode_cores

        set_decode_cores(threads)
    else:
        threads = torch.get_num_threads()
    resolved = options.resolve(existing, Path(index_dir))
    if resolved.config != index_config:
        diff = [
            f"{f.name}={getattr(resolved.config, f.name)!r} (driver: {getattr(index_config, f.name)!r})"
            for f in fields(IndexConfig)
            if getattr(resolved.config, f.name) != getattr(index_config, f.name)
        ]
        raise ConfigError(
            f"this worker ({os.uname().nodename}) would index with {', '.join(diff)}; install the same "
            "videopipe extras (speech, ocr) and models on every worker as on the driver"
        )
    return IndexRunner(resolved, threads, known)


def index_spec(
    options: IndexOptions,
    existing: IndexConfig | None,
    index_dir: Path,
    config: IndexConfig,
    *,
    threads: int,
    known: frozenset[str] = frozenset(),
) -> JobSpec:
    """The :class:`JobSpec` of an indexing run (no prepare stage: a worker does all of a video)."""
    return JobSpec(
        factory="videopipe.retrieval.parallel:index_runner",
        kwargs={
            "options": options,
            "existing": existing,
            "index_dir": str(index_dir),
            "index_config": config,
            "threads": threads,
            "known": known,
        },
        preload=("videopipe.retrieval.video_work", "videopipe.retrieval.indexer", "torch"),
        whole_video=True,
    )


def run_on_executor(
    executor: Executor,
    videos: Sequence[tuple[Path, str]],
    spec: JobSpec,
    on_clips: Callable[[VideoClips], None],
    on_known: Callable[[KnownContent], None],
    on_failed: Callable[[VideoFailed], None],
) -> None:
    """Run the (video, stat) pairs on ``executor`` (``stat``: the size and mtime the driver
    saw, which names the job); ``on_clips`` / ``on_known`` / ``on_failed`` are called in this
    process as each video's result arrives (a worker that died twice on a video: ``on_failed``
    with the executor's ``WorkerCrashed`` line)."""
    tasks = [VideoTask(str(p), (Job(job_id(str(p), stat), str(p), stat),)) for p, stat in videos]

    def emit(record: dict[str, Any]) -> None:
        value = record.get("answer")
        if record.get("status") == "ok" and isinstance(value, VideoClips):
            on_clips(value)
        elif record.get("status") == "ok" and isinstance(value, KnownContent):
            on_known(value)
        elif record.get("status") == "ok" and isinstance(value, VideoFailed):
            on_failed(value)
        else:
            error = record.get("error") or {}
            message = str(error.get("message", "the worker gave no result"))
            video = record["video"]  # named once, first, as the serial run's failure lines
            line = f"{video}: " + " ".join(message.replace(video, Path(video).name).split())
            on_failed(VideoFailed(video, line, str(error.get("type", "WorkerCrashed"))))

    executor.run(tasks, spec, emit)
