"""The batch driver: skip finished records, check the rest (``videopipe.request.check_request``:
a job whose file or question is bad gets its error record here, with the message ``videopipe
ask`` gives, and reaches no worker), run them on an executor, write every record durably as it
arrives, show progress, and summarise."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from videopipe.batch.inputs import group_by_video
from videopipe.batch.jobs import Job, JobSpec, VideoTask
from videopipe.batch.results import ResultStore, write_parquet
from videopipe.errors import ConfigError

__all__ = ["Executor", "BatchSummary", "check_jobs", "make_executor", "run_batch", "print_summary"]


class Executor(Protocol):
    """Runs video tasks and calls ``emit(record)`` in the driver process for every record."""

    name: str

    def describe(self) -> str: ...

    def run(
        self, tasks: Sequence[VideoTask], spec: JobSpec, emit: Callable[[dict[str, Any]], None]
    ) -> None: ...


def make_executor(
    executor: str,
    *,
    workers: int = 1,
    model_workers: int | None = None,
    address: str | None = None,
    task_timeout_s: float | None = None,
) -> Executor:
    """The ``EXECUTORS`` entry ``executor`` (``--executor``, shared by ``batch`` and ``eval``):
    local model workers default to one per visible GPU (0 = CPU workers run the model too)."""
    from videopipe.registry import EXECUTORS

    if executor == "ray":
        return EXECUTORS.create("ray", address=address, workers=workers)
    if address:
        raise ConfigError("--address only applies to --executor ray")
    gpus: list[int] = []
    if model_workers is None:
        from videopipe.config import visible_gpu_count

        gpus = list(range(visible_gpu_count()))
        model_workers = len(gpus)
    return EXECUTORS.create(
        executor, workers=workers, model_workers=model_workers, gpus=gpus, task_timeout_s=task_timeout_s
    )


@dataclass
class BatchSummary:
    """What a run did. ``failed`` counts this run's error records; ``previously_failed`` the
    error records of the output that this run skipped."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    previously_failed: int = 0
    videos: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    out: str = ""
    parquet: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 1 when any record of this input is an error, else 0."""
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.previously_failed) else 0

    @property
    def videos_per_s(self) -> float:
        return self.videos / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a batch like Ctrl-C (clean stop, resumable)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_batch(
    jobs: Sequence[Job],
    spec: JobSpec,
    *,
    out: str | Path,
    executor: Executor,
    retry_failed: bool = False,
    parquet: bool = False,
    progress: bool = True,
) -> BatchSummary:
    """Run ``jobs`` (skipping those already in ``out``) and return the summary.

    Ctrl-C / SIGTERM stop the run cleanly: in-flight records are abandoned, every written
    record is complete, and ``summary.interrupted`` is set; rerunning continues."""
    t0 = time.perf_counter()
    summary = BatchSummary(total=len(jobs), out=str(out))
    with ResultStore(out, retry_failed=retry_failed) as store:
        done_ids = store.done_ids
        for j in jobs:
            if j.id in done_ids:
                summary.skipped += 1
                if store.records[j.id].get("status") != "ok":
                    summary.previously_failed += 1
        checked, refused = check_jobs([j for j in jobs if j.id not in done_ids])
        tasks = group_by_video(checked)
        left = {t.video: len(t.jobs) for t in tasks}
        with _progress(len(tasks), enabled=progress and bool(tasks)) as advance:

            def emit(rec: dict[str, Any]) -> None:
                store.append(rec)
                if rec.get("status") == "ok":
                    summary.done += 1
                else:
                    summary.failed += 1
                    summary.errors.append(rec)
                video = rec["video"]
                if video in left:
                    left[video] -= 1
                    if left[video] == 0:
                        del left[video]
                        summary.videos += 1
                        advance()

            if tasks:
                try:
                    with _sigterm_as_interrupt():
                        executor.run(tasks, spec, emit)
                except KeyboardInterrupt:
                    summary.interrupted = True
            for rec in refused:  # after the run: a batch that aborts (BatchAbort) writes nothing
                emit(rec)
            # a video every job of which the check refused is a video of the run all the same
            summary.videos += len({r["video"] for r in refused} - {t.video for t in tasks})
        if parquet and not summary.interrupted:
            ids = {j.id for j in jobs}
            recs = [r for k, r in store.records.items() if k in ids]
            summary.parquet = str(write_parquet(recs, Path(out).with_suffix(".parquet")))
    summary.seconds = time.perf_counter() - t0
    return summary


def check_jobs(jobs: Sequence[Job]) -> tuple[list[Job], list[dict[str, Any]]]:
    """The jobs whose request passes :func:`~videopipe.request.check_request` (the video file
    and the question), and an error record (attempts 0) for each of the others, with the
    check's one-line message."""
    from videopipe.batch.records import describe_exception, error_record
    from videopipe.errors import VideoPipeError
    from videopipe.request import check_request

    ok: list[Job] = []
    refused: list[dict[str, Any]] = []
    for job in jobs:
        try:
            check_request(job.video, job.question)
        except VideoPipeError as e:
            refused.append(error_record(job, *describe_exception(e), attempts=0))
        else:
            ok.append(job)
    return ok, refused


@contextmanager
def _progress(total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            elapsed = task.finished_time if task.finished else task.elapsed
            if not elapsed or not task.completed:
                return Text("-- videos/s")
            return Text(f"{task.completed / elapsed:.2f} videos/s")

    with Progress(
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as prog:
        task_id = prog.add_task("videos", total=total)
        yield lambda: prog.advance(task_id)


def print_summary(summary: BatchSummary, *, console: Any = None, max_errors: int = 10) -> None:
    """A rich table: done / skipped / failed / time (and the first errors)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    title = "batch summary" + (
        " (interrupted: rerun the same command to continue)" if summary.interrupted else ""
    )
    table = Table(title=title)
    for col in ("done", "skipped", "failed", "total", "videos", "time", "videos/s"):
        table.add_column(col, justify="right")
    skipped = str(summary.skipped)
    if summary.previously_failed:
        skipped += f" ({summary.previously_failed} failed before)"
    table.add_row(
        str(summary.done),
        skipped,
        str(summary.failed),
        str(summary.total),
        str(summary.videos),
        f"{summary.seconds:.1f}s",
        f"{summary.videos_per_s:.2f}",
    )
    console.print(table)
    if summary.errors:
        errs = Table(title=f"failed records ({summary.failed})")
        errs.add_column("video")
        errs.add_column("error")
        errs.add_column("message")
        for rec in summary.errors[:max_errors]:
            err = rec.get("error") or {}
            errs.add_row(Path(rec["video"]).name, str(err.get("type")), str(err.get("message"))[:200])
        console.print(errs)
    console.print(f"results: {summary.out}" + (f"  parquet: {summary.parquet}" if summary.parquet else ""))
