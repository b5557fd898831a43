"""The ``local`` executor: a supervised process pool on this machine (no Ray needed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from videopipe.batch.jobs import JobSpec, VideoTask
from videopipe.batch.pool import LocalPool, check_worker_counts

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Run a batch on worker processes of this machine.

    workers:        CPU workers. With ``model_workers=0`` each does both stages (prepare +
                    answer) on its own videos; otherwise they only prepare.
    model_workers:  processes that run the model stage (one per GPU: pass ``gpus``); 0 = none,
                    the CPU workers answer themselves. When the job's prepare stage is the
                    trivial one there is nothing to prepare ahead, and each model worker runs
                    both stages (``workers`` is then unused).
    gpus:           GPU indices for the model workers (each pinned with CUDA_VISIBLE_DEVICES).
    task_timeout_s: a worker busy with one video's stage for longer is killed and the video's
                    records become ``TaskTimeout`` errors (not retried); None: no limit.
    prefetch:       videos being prepared or waiting for a model worker, at most
                    (default ``workers + model_workers``); bounds memory.
    """

    name = "local"

    def __init__(
        self,
        *,
        workers: int = 1,
        model_workers: int = 0,
        gpus: Sequence[int] = (),
        prefetch: int | None = None,
        task_timeout_s: float | None = None,
    ) -> None:
        check_worker_counts(workers, model_workers)
        self.workers = workers
        self.model_workers = model_workers
        self.gpus = tuple(gpus)
        self.prefetch = prefetch
        self.task_timeout_s = task_timeout_s

    def describe(self) -> str:
        if self.model_workers:
            return f"local: {self.workers} prepare worker(s) -> {self.model_workers} model worker(s)"
        return f"local: {self.workers} worker(s)"

    def run(self, tasks: Sequence[VideoTask], spec: JobSpec, emit: Callable[[dict[str, Any]], None]) -> None:
        from videopipe.batch.sizing import available_memory_bytes, worker_count, worker_memory_bytes

        workers = worker_count(  # never more workers than videos, nor than memory holds
            self.workers,
            jobs=len(tasks),
            per_worker=worker_memory_bytes(dict(spec.kwargs), runs_model=self.model_workers == 0),
            available=available_memory_bytes(),
        )
        pool = LocalPool(
            spec,
            workers=workers,
            model_workers=self.model_workers,
            gpus=self.gpus,
            prefetch=self.prefetch,
            task_timeout_s=self.task_timeout_s,
        )
        pool.run(tasks, emit)
