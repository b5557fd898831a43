"""A small supervised process pool for batch jobs (the ``local`` executor's engine).

Why not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies (a segfault
in a decoder, an OOM kill) the whole pool is marked broken and every pending future fails.
Here each worker has its *own* duplex pipe and the supervisor watches the pipes and the
process sentinels, so a dead worker costs only the task it held:

* the task is retried once on a fresh worker (a replacement is started right away);
* if it kills a worker again, its remaining records are written as ``WorkerCrashed`` errors.

Workers come in three roles (:class:`~videopipe.batch.messages.Role`):

``full``     prepare + answer in one process (``--workers N`` on CPU; ``model_workers=0``)
``prepare``  the CPU stage only; prepared values go back to the supervisor
``answer``   the model stage only (one per GPU, pinned with ``CUDA_VISIBLE_DEVICES``)

Supervisor and workers talk in the messages of :mod:`videopipe.batch.messages`, one frozen
dataclass each, dispatched with ``match`` at both ends.

In the staged layout the supervisor keeps up to ``prefetch`` prepared videos waiting, so the
preparation of the next videos overlaps with model work on the current one. Workers ignore
SIGINT (the supervisor decides what Ctrl-C means) and die with the supervisor (Linux
``PR_SET_PDEATHSIG``) so a SIGKILLed batch leaves no orphans computing.

Workers start from a ``forkserver`` (where available, else ``spawn``) that has imported
this module — and with it torch — once, so starting and restarting a worker is a fork, not a
new interpreter. Never plain ``fork``: the supervisor may hold threads and CUDA state.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from videopipe.batch.jobs import Job, JobSpec, VideoTask
from videopipe.batch.messages import (
    AnswerTask,
    FullTask,
    InitFailed,
    PrepareFailed,
    PrepareTask,
    Ready,
    RecordDone,
    Role,
    Shutdown,
    Task,
    TaskDone,
    ToSupervisor,
    ToWorker,
    VideoPrepared,
)
from videopipe.batch.records import TASK_TIMEOUT, WORKER_CRASHED, describe_exception, error_record, ok_record
from videopipe.errors import ConfigError, VideoPipeError
from videopipe.validate import positive

__all__ = ["BatchAbort", "LocalPool", "check_worker_counts"]

Emit = Callable[[dict[str, Any]], None]

#: a video whose worker died this many times is marked failed (1 try + 1 retry)
MAX_ATTEMPTS = 2


class BatchAbort(VideoPipeError):
    """The batch cannot go on (the runner cannot be built, workers die while starting).
    ``worker_traceback`` holds the worker's traceback when there is one."""

    worker_traceback: str = ""


# ------------------------------------------------------------------------------------------
# worker side
# ------------------------------------------------------------------------------------------
def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _answer_jobs(
    conn: Connection, runner: Any, prepared: Any, jobs: Sequence[Job], attempts: int, prepare_s: float
) -> None:
    for job in jobs:
        t0 = time.perf_counter()
        try:
            answer = runner(prepared, job.question)
            rec = ok_record(job, answer, attempts=attempts, elapsed_s=prepare_s + time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - every runner error becomes an error record
            etype, msg = describe_exception(e)
            rec = error_record(
                job, etype, msg, attempts=attempts, elapsed_s=prepare_s + time.perf_counter() - t0
            )
        conn.send(RecordDone(rec))


def _prepare(preparer: Any, video: str) -> VideoPrepared | PrepareFailed:
    t0 = time.perf_counter()
    try:
        prepared = preparer(video)
    except Exception as e:  # noqa: BLE001 - every prepare error becomes error records
        etype, emsg = describe_exception(e)
        return PrepareFailed(video=video, error_type=etype, message=emsg, elapsed_s=time.perf_counter() - t0)
    return VideoPrepared(video=video, prepared=prepared, prepare_s=time.perf_counter() - t0)


def _run_task(conn: Connection, task: Task, preparer: Any, runner: Any) -> None:
    match task:
        case PrepareTask(video=video):
            t0 = time.perf_counter()
            result = _prepare(preparer, video)
            try:
                conn.send(result)
            except (BrokenPipeError, EOFError, ConnectionResetError):
                raise
            except Exception as e:  # noqa: BLE001 - e.g. an unpicklable prepared value
                etype, emsg = describe_exception(e)
                dt = time.perf_counter() - t0
                conn.send(PrepareFailed(video=video, error_type=etype, message=emsg, elapsed_s=dt))
        case AnswerTask(jobs=jobs, prepared=prepared, attempts=attempts, prepare_s=prepare_s):
            _answer_jobs(conn, runner, prepared, jobs, attempts, prepare_s)
        case FullTask(video=video, jobs=jobs, attempts=attempts):
            match _prepare(preparer, video):
                case PrepareFailed(error_type=etype, message=emsg, elapsed_s=dt):
                    for job in jobs:
                        conn.send(RecordDone(error_record(job, etype, emsg, attempts=attempts, elapsed_s=dt)))
                case VideoPrepared(prepared=prepared, prepare_s=dt):
                    _answer_jobs(conn, runner, prepared, jobs, attempts, dt)


def _worker_main(conn: Connection, spec: JobSpec, role: Role, gpu: int | None, threads: int = 0) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if threads > 0 and "torch" in sys.modules:
        # N workers on one machine share its cores: without this each would start a thread per
        # core and they would oversubscribe the CPU (measured: 2 workers slower than 1)
        sys.modules["torch"].set_num_threads(threads)
    if threads > 0:  # the same share for a reader's decoding threads (workers=auto)
        from videopipe.decode.workers import set_decode_cores

        set_decode_cores(threads)
    try:
        preparer = spec.build_preparer() if role in (Role.FULL, Role.PREPARE) else None
        runner = spec.build_runner() if role in (Role.FULL, Role.ANSWER) else None
    except BaseException as e:  # noqa: BLE001 - reported to the supervisor, which aborts
        etype, msg = describe_exception(e)
        conn.send(InitFailed(error_type=etype, message=msg, traceback=traceback.format_exc()))
        return
    conn.send(Ready())
    while True:
        try:
            msg: ToWorker = conn.recv()
        except (EOFError, OSError):
            return
        if isinstance(msg, Shutdown):
            return
        try:
            _run_task(conn, msg, preparer, runner)
            conn.send(TaskDone())
        except (BrokenPipeError, EOFError, ConnectionResetError):
            return  # the supervisor is gone


# ------------------------------------------------------------------------------------------
# supervisor side
# ------------------------------------------------------------------------------------------
@dataclass
class _Video:
    task: VideoTask
    remaining: dict[str, Job]
    attempts: int = 1
    prepared: Any = None
    prepare_s: float = 0.0
    has_prepared: bool = False


@dataclass
class _Worker:
    role: Role
    gpu: int | None
    proc: Any
    conn: Connection
    ready: bool = False
    task: Task | None = None  # the task it holds
    dead: bool = False
    sent_at: float = field(default_factory=time.monotonic)
    timed_out: bool = False


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "unknown cause"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def check_worker_counts(workers: int, model_workers: int) -> None:
    """A ConfigError unless ``workers`` >= 1 and ``model_workers`` >= 0 (the executor's and the
    pool's check)."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if model_workers < 0:
        raise ConfigError(f"--model-workers must be >= 0, got {model_workers}")


class LocalPool:
    """Runs video tasks on supervised worker processes; see the module docstring."""

    def __init__(
        self,
        spec: JobSpec,
        *,
        workers: int = 1,
        model_workers: int = 0,
        gpus: Sequence[int] = (),
        prefetch: int | None = None,
        start_method: str | None = None,
        max_start_crashes: int = 3,
        task_timeout_s: float | None = None,
    ) -> None:
        check_worker_counts(workers, model_workers)
        positive("task_timeout_s (--task-timeout-s)", task_timeout_s, allow_none=True)
        self.task_timeout_s = task_timeout_s
        if gpus and len(gpus) < model_workers:
            raise ConfigError(f"{model_workers} model workers need {model_workers} GPUs, got {list(gpus)}")
        self.spec = spec
        self.workers = workers
        self.model_workers = model_workers
        self.gpus = list(gpus)
        # prepared videos in flight (being prepared or waiting for a model worker): enough to
        # keep every prepare worker busy and one video queued per model worker
        self.prefetch = prefetch if prefetch is not None else workers + model_workers
        if self.prefetch < 1:
            raise ConfigError(f"prefetch must be >= 1, got {self.prefetch}")
        if start_method is None:
            start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self.ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            # the fork server imports torch & co once; each (re)started worker is a cheap fork
            self.ctx.set_forkserver_preload(["videopipe.batch.pool", "videopipe.types", *spec.preload])
        self.max_start_crashes = max_start_crashes
        self.threads_per_worker = max(1, (os.cpu_count() or 1) // (workers + model_workers))
        self._pool: list[_Worker] = []
        self._start_crashes = 0

    # -- processes -------------------------------------------------------------------------
    def _spawn(self, role: Role, gpu: int | None) -> _Worker:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(
            target=_worker_main,
            args=(child, self.spec, role, gpu, self.threads_per_worker),
            name=f"videopipe-{role.value}",
            daemon=True,
        )
        proc.start()
        child.close()
        w = _Worker(role=role, gpu=gpu, proc=proc, conn=parent)
        self._pool.append(w)
        return w

    def _start_all(self) -> None:
        if self.model_workers == 0:
            for _ in range(self.workers):
                self._spawn(Role.FULL, None)
        elif self.spec.prepare_factory is None:
            # nothing to prepare ahead: separate prepare workers would idle, so each model
            # worker (one per GPU) runs both stages
            for i in range(self.model_workers):
                self._spawn(Role.FULL, self.gpus[i] if self.gpus else None)
        else:
            for _ in range(self.workers):
                self._spawn(Role.PREPARE, None)
            for i in range(self.model_workers):
                self._spawn(Role.ANSWER, self.gpus[i] if self.gpus else None)

    def _shutdown(self, *, force: bool) -> None:
        for w in self._pool:
            if not force and w.proc.is_alive():
                try:
                    w.conn.send(Shutdown())
                except OSError:
                    pass
        deadline = time.monotonic() + (0.0 if force else 5.0)
        for w in self._pool:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join(2.0)
            if w.proc.is_alive():  # pragma: no cover - stuck in uninterruptible code
                w.proc.kill()
                w.proc.join(1.0)
            w.conn.close()
        self._pool.clear()

    # -- the supervisor loop -------------------------------------------------------------------
    def run(self, tasks: Sequence[VideoTask], emit: Emit) -> None:
        """Run every task; ``emit(record)`` is called in this process for each record."""
        videos = {t.video: _Video(task=t, remaining={j.id: j for j in t.jobs}) for t in tasks}
        if len(videos) != len(tasks):
            raise ValueError("LocalPool.run: two tasks for the same video; group jobs by video first")
        todo: deque[str] = deque(videos)  # to prepare (or run in full)
        ready: deque[str] = deque()  # prepared, waiting for a model worker
        self._start_crashes = 0
        self._start_all()
        ok = False
        try:
            while videos:
                self._dispatch(videos, todo, ready)
                live = [w for w in self._pool if not w.dead]
                objs: list[Any] = [w.conn for w in live] + [w.proc.sentinel for w in live]
                self._kill_overdue()
                for obj in wait(objs, timeout=1.0):
                    w = next(w for w in live if obj is w.conn or obj == w.proc.sentinel)
                    if w.dead:
                        continue
                    if obj is w.conn:
                        self._receive(w, videos, ready, emit)
                    else:
                        self._on_death(w, videos, todo, ready, emit)
            ok = True
        finally:
            self._shutdown(force=not ok)

    def _kill_overdue(self) -> None:
        """SIGKILL workers stuck on one task for longer than ``task_timeout_s`` (a decoder
        that hangs on a bad file); their sentinel then reports the death."""
        if self.task_timeout_s is None:
            return
        now = time.monotonic()
        for w in self._pool:
            if (
                not w.dead
                and w.task is not None
                and not w.timed_out
                and now - w.sent_at > self.task_timeout_s
            ):
                w.timed_out = True
                w.proc.kill()

    def _dispatch(self, videos: dict[str, _Video], todo: deque[str], ready: deque[str]) -> None:
        for w in self._pool:
            if w.dead or not w.ready or w.task is not None:
                continue
            if w.role is Role.FULL and todo:
                v = videos[todo.popleft()]
                self._send(
                    w, FullTask(video=v.task.video, jobs=tuple(v.remaining.values()), attempts=v.attempts)
                )
            elif w.role is Role.PREPARE and todo:
                preparing = sum(1 for x in self._pool if isinstance(x.task, PrepareTask))
                if len(ready) + preparing < self.prefetch:
                    self._send(w, PrepareTask(video=todo.popleft()))
            elif w.role is Role.ANSWER and ready:
                v = videos[ready.popleft()]
                self._send(
                    w,
                    AnswerTask(
                        jobs=tuple(v.remaining.values()),
                        prepared=v.prepared,
                        attempts=v.attempts,
                        prepare_s=v.prepare_s,
                    ),
                )

    def _send(self, w: _Worker, task: Task) -> None:
        w.task = task
        w.sent_at = time.monotonic()
        try:
            w.conn.send(task)
        except OSError:
            pass  # the worker died; its sentinel fires and the task is retried

    def _finish_job(self, videos: dict[str, _Video], rec: dict[str, Any], emit: Emit) -> None:
        v = videos.get(rec["video"])
        if v is None or v.remaining.pop(rec["id"], None) is None:
            return  # a late duplicate (cannot normally happen)
        emit(rec)
        if not v.remaining:
            del videos[rec["video"]]

    def _receive(self, w: _Worker, videos: dict[str, _Video], ready: deque[str], emit: Emit) -> bool:
        """Handle one message from ``w``; False when its pipe is closed (the worker is dead or
        dying: its sentinel reports the death)."""
        try:
            msg: ToSupervisor = w.conn.recv()
        except (EOFError, OSError):
            w.proc.join(5.0)
            return False
        except Exception:  # noqa: BLE001 - an unreadable message: treat the worker as crashed
            w.proc.kill()
            w.proc.join(5.0)
            return False
        match msg:
            case Ready():
                w.ready = True
            case InitFailed(error_type=etype, message=emsg, traceback=tb):
                err = BatchAbort(
                    f"building the batch runner failed in a {w.role.value} worker: {etype}: {emsg}"
                )
                err.worker_traceback = tb
                raise err
            case RecordDone(record=rec):
                self._finish_job(videos, rec, emit)
            case VideoPrepared(video=video, prepared=prepared, prepare_s=prepare_s):
                v = videos[video]
                v.prepared, v.prepare_s, v.has_prepared = prepared, prepare_s, True
                ready.append(video)
            case PrepareFailed(video=video, error_type=etype, message=emsg, elapsed_s=dt):
                v = videos[video]
                for job in list(v.remaining.values()):
                    self._finish_job(
                        videos, error_record(job, etype, emsg, attempts=v.attempts, elapsed_s=dt), emit
                    )
            case TaskDone():
                w.task = None
        return True

    def _on_death(
        self, w: _Worker, videos: dict[str, _Video], todo: deque[str], ready: deque[str], emit: Emit
    ) -> None:
        # read what the worker managed to send before it died (records are kept)
        try:
            while w.conn.poll() and self._receive(w, videos, ready, emit):
                pass
        except (EOFError, OSError):
            pass
        w.proc.join(5.0)
        w.dead = True
        self._pool.remove(w)
        w.conn.close()
        cause = _signal_name(w.proc.exitcode)
        if not w.ready:
            self._start_crashes += 1
            if self._start_crashes > self.max_start_crashes:
                raise BatchAbort(
                    f"{self._start_crashes} {w.role.value} workers died while starting ({cause}); "
                    "check that the runner can be built (--debug shows worker output)"
                )
        if w.task is not None:
            task, video = w.task, w.task.video
            v = videos.get(video)
            if v is not None and w.timed_out:  # a hang would hang again: no retry
                msg = (
                    f"{task.role.doing} {video} took longer than {self.task_timeout_s:g} s and its worker was "
                    "stopped; raise --task-timeout-s if the video is just long"
                )
                for job in list(v.remaining.values()):
                    self._finish_job(videos, error_record(job, TASK_TIMEOUT, msg, attempts=v.attempts), emit)
            elif v is not None:
                if v.attempts >= MAX_ATTEMPTS:
                    msg = (
                        f"the worker process died ({cause}) while {task.role.doing} "
                        f"{video}, on {v.attempts} attempts; the video probably crashes the decoder or the "
                        "model (out of memory?) — check it on its own with `videopipe info`"
                    )
                    for job in list(v.remaining.values()):
                        self._finish_job(
                            videos, error_record(job, WORKER_CRASHED, msg, attempts=v.attempts), emit
                        )
                else:
                    v.attempts += 1
                    if isinstance(task, AnswerTask) and v.has_prepared:
                        ready.appendleft(video)
                    else:
                        todo.appendleft(video)
        if videos:
            self._spawn(w.role, w.gpu)
