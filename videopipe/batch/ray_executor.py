"""The ``ray`` executor: the same batch on a Ray cluster.

* the prepare stage runs as Ray **tasks** (``num_cpus=1``, retried once by Ray if the worker
  process dies: ``max_retries=1``);
* the answer stage runs on Ray **actors**, one runner each, built once per actor
  (``num_gpus=1`` per actor when the cluster has GPUs — one actor per GPU — else
  ``num_cpus=1`` and ``workers`` actors, keeping one CPU for the prepare tasks). An actor that dies is restarted by Ray and its
  task retried once (``max_restarts=-1, max_task_retries=1``);
* a job whose runner does all of a video (``JobSpec.whole_video``, e.g. ``videopipe index``)
  sends the video path straight to the actors, one per CPU (``workers`` at most);
* the prepared value goes from task to actor through Ray's object store (the actor call takes
  the task's ``ObjectRef``; Ray schedules it when the prepared value exists);
* the driver (this process) keeps a bounded window of videos in flight and writes every
  record to the same resumable JSONL file as the local executor. Scheduling, placement and
  retries are Ray's: there is no scheduler here.

Records equal the local executor's for the same input (``attempts`` is 1 unless Ray gave up on
a video: its records are then ``WorkerCrashed`` errors with ``attempts`` 2).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from videopipe.batch.jobs import Job, JobSpec, VideoTask
from videopipe.batch.messages import PrepareFailed, PrepareResult, VideoPrepared
from videopipe.batch.records import WORKER_CRASHED, describe_exception, error_record, ok_record
from videopipe.errors import ConfigError, MissingDependencyError

__all__ = ["RayExecutor"]


#: prepare stages built in this (Ray worker) process, by spec: Ray reuses worker processes
#: for many tasks, and building a stage may read model config files
_PREPARERS: dict[str, Any] = {}


def _preparer(spec: JobSpec) -> Any:
    key = repr(spec)
    if key not in _PREPARERS:
        _PREPARERS.clear()  # one spec per batch: keep only the current one
        _PREPARERS[key] = spec.build_preparer()
    return _PREPARERS[key]


def _prepare(spec: JobSpec, video: str) -> PrepareResult:
    """Ray task body: the prepared value, or why the prepare stage failed."""
    t0 = time.perf_counter()
    try:
        prepared = _preparer(spec)(video)
    except Exception as e:  # noqa: BLE001 - becomes error records, like the local executor
        etype, emsg = describe_exception(e)
        return PrepareFailed(video=video, error_type=etype, message=emsg, elapsed_s=time.perf_counter() - t0)
    return VideoPrepared(video=video, prepared=prepared, prepare_s=time.perf_counter() - t0)


class _ModelActor:
    """Ray actor body: one runner, answering every question of a prepared video."""

    def __init__(self, spec: JobSpec) -> None:
        self.runner = spec.build_runner()

    def answer(self, prepared: PrepareResult, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        match prepared:
            case PrepareFailed(error_type=etype, message=msg, elapsed_s=dt):
                return [error_record(j, etype, msg, attempts=1, elapsed_s=dt) for j in jobs]
            case VideoPrepared(prepared=value, prepare_s=prepare_s):
                return self._answer(value, prepare_s, jobs)

    def _answer(self, value: Any, prepare_s: float, jobs: Sequence[Job]) -> list[dict[str, Any]]:
        out = []
        for job in jobs:
            t0 = time.perf_counter()
            try:
                ans = self.runner(value, job.question)
                out.append(ok_record(job, ans, elapsed_s=prepare_s + time.perf_counter() - t0))
            except Exception as e:  # noqa: BLE001
                etype, msg = describe_exception(e)
                out.append(error_record(job, etype, msg, elapsed_s=prepare_s + time.perf_counter() - t0))
        return out


class RayExecutor:
    """Run a batch on Ray (``pip install 'videopipe[ray]'``).

    address:   Ray cluster address (``auto``: the running cluster); None starts a local Ray
               when none is initialised in this process.
    workers:   model actors when the cluster has no GPUs (default: 1).
    in_flight: videos submitted at once (default: 2 per actor + CPUs); bounds memory.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int = 1, in_flight: int | None = None) -> None:
        from videopipe.batch.pool import check_worker_counts

        check_worker_counts(workers, 0)
        if in_flight is not None and in_flight < 1:
            raise ConfigError(f"in_flight must be >= 1, got {in_flight}")
        self.address = address
        self.workers = workers
        self.in_flight = in_flight

    def describe(self) -> str:
        return f"ray ({self.address or 'local'})"

    def run(self, tasks: Sequence[VideoTask], spec: JobSpec, emit: Callable[[dict[str, Any]], None]) -> None:
        try:
            import ray
        except ImportError as e:
            raise MissingDependencyError(
                "--executor ray needs Ray; install it with: pip install 'videopipe[ray]'"
            ) from e
        started = False
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            except Exception as e:  # noqa: BLE001 - Ray raises bare Exceptions when a node cannot start
                from videopipe.batch.pool import BatchAbort

                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise BatchAbort(f"{where} could not be started or reached: {first}") from e
            started = True
        try:
            self._run(ray, tasks, spec, emit)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, tasks: Sequence[VideoTask], spec: JobSpec, emit: Callable[..., None]) -> None:
        resources = ray.cluster_resources()
        n_gpus = int(resources.get("GPU", 0))
        n_cpus = max(1, int(resources.get("CPU", 1)))
        if n_gpus:
            actor_cls = ray.remote(num_gpus=1, num_cpus=0, max_restarts=-1, max_task_retries=1)(_ModelActor)
            n_actors = n_gpus
        elif spec.whole_video:
            # nothing to prepare ahead (the video path is the prepared value): no prepare tasks,
            # so every CPU can hold an actor, as the local pool's model workers run both stages
            n_actors = min(self.workers, n_cpus)
            actor_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=1)(_ModelActor)
        else:
            # leave at least one CPU to the prepare tasks, or nothing could ever be prepared
            n_actors = min(self.workers, max(1, n_cpus - 1))
            actor_cpus = 1 if n_cpus > n_actors else 0
            actor_cls = ray.remote(num_cpus=actor_cpus, max_restarts=-1, max_task_retries=1)(_ModelActor)
        prepare = ray.remote(num_cpus=1, max_retries=1)(_prepare)
        actors = [actor_cls.remote(spec) for _ in range(n_actors)]
        window = self.in_flight or (2 * n_actors + n_cpus)
        crash_types = (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.RayActorError,
            ray.exceptions.OutOfMemoryError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        )
        spec_ref = ray.put(spec)
        queue = list(reversed(tasks))
        pending: dict[Any, VideoTask] = {}
        load = [0] * n_actors
        owner: dict[Any, int] = {}
        try:
            while queue or pending:
                while queue and len(pending) < window:
                    task = queue.pop()
                    i = min(range(n_actors), key=load.__getitem__)  # least-loaded actor
                    if spec.whole_video:
                        prepared: Any = VideoPrepared(video=task.video, prepared=task.video, prepare_s=0.0)
                    else:
                        prepared = prepare.remote(spec_ref, task.video)
                    ref = actors[i].answer.remote(prepared, task.jobs)
                    pending[ref], owner[ref] = task, i
                    load[i] += 1
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    load[owner.pop(ref)] -= 1
                    try:
                        records = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        if isinstance(e, crash_types):
                            etype = WORKER_CRASHED
                            msg = (
                                f"a Ray worker died on {task.video} (retried once by Ray): "
                                + str(e).splitlines()[0]
                            )
                        else:
                            etype, msg = describe_exception(e)
                        records = [error_record(j, etype, msg[:2000], attempts=2) for j in task.jobs]
                    for rec in records:
                        emit(rec)
        finally:
            for ref in pending:  # interrupted: abandon the in-flight videos
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort; the actors are killed next
                    pass
            for a in actors:
                ray.kill(a)
