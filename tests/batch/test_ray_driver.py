"""The Ray executor's driver logic against a synchronous stand-in for the Ray API.

The real-Ray test (test_ray.py) needs a local Ray, whose start-up times out on an overloaded
machine; this one checks the driver's part — window, task/actor wiring, records, crash
mapping — everywhere. The stand-in resolves ObjectRef arguments like Ray does."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from videopipe.batch.inputs import group_by_video, load_jobs
from videopipe.batch.jobs import JobSpec
from videopipe.batch.local import LocalExecutor
from videopipe.batch.ray_executor import RayExecutor
from videopipe.batch.records import VOLATILE_FIELDS
from videopipe.batch.results import ResultStore, read_records


class _Crash(Exception):
    pass


class _Ref:
    def __init__(self, fn: Any, args: tuple) -> None:
        self.fn, self.args = fn, args


class FakeRay:
    def __init__(self, crash_on: str | None = None) -> None:
        self.exceptions = SimpleNamespace(
            RayError=Exception,
            WorkerCrashedError=_Crash,
            RayActorError=_Crash,
            OutOfMemoryError=_Crash,
            NodeDiedError=_Crash,
            ObjectLostError=_Crash,
        )
        self.crash_on = crash_on
        self.max_pending = 0
        self.options: list[dict] = []
        self.killed = 0

    def _get(self, x: Any) -> Any:
        if not isinstance(x, _Ref):
            return x
        args = [self._get(a) for a in x.args]
        if self.crash_on and any(isinstance(a, str) and self.crash_on in a for a in args):
            raise _Crash(f"worker died on {args}")
        return x.fn(*args)

    def remote(self, **opts: Any) -> Any:
        self.options.append(opts)

        def wrap(target: Any) -> Any:
            if isinstance(target, type):

                def make(*args: Any) -> Any:
                    obj = target(*[self._get(a) for a in args])
                    return SimpleNamespace(answer=SimpleNamespace(remote=lambda *a: _Ref(obj.answer, a)))

                return SimpleNamespace(remote=make)
            return SimpleNamespace(remote=lambda *a: _Ref(target, a))

        return wrap

    def cluster_resources(self) -> dict:
        return {"CPU": 4.0}

    def put(self, x: Any) -> Any:
        return x

    def wait(self, refs: list, num_returns: int = 1) -> tuple[list, list]:
        self.max_pending = max(self.max_pending, len(refs))
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: Any) -> Any:
        return self._get(ref)

    def cancel(self, ref: Any) -> None:
        pass

    def kill(self, actor: Any) -> None:
        self.killed += 1


def _records(path: Path) -> dict[str, dict]:
    return {r["id"]: {k: v for k, v in r.items() if k not in VOLATILE_FIELDS} for r in read_records(path)}


def test_ray_driver_matches_local_records(video_folder: Path, tmp_path: Path) -> None:
    jobs = load_jobs(video_folder, questions=["what?", "who?"])
    spec = JobSpec("batch_fakes:runner")
    # executor against executor: run_batch's request check (attempts 0) is not the executors' part
    with ResultStore(tmp_path / "local.jsonl") as store:
        LocalExecutor(workers=2).run(group_by_video(jobs), spec, store.append)

    fake = FakeRay(crash_on="good03")
    ex = RayExecutor(workers=2, in_flight=3)
    out = tmp_path / "ray.jsonl"
    with ResultStore(out) as store:
        ex._run(fake, group_by_video(jobs), spec, store.append)
    local, ray = _records(tmp_path / "local.jsonl"), _records(out)
    assert set(local) == set(ray) and len(ray) == 24
    for rid, rec in ray.items():
        if rec["video"].endswith("good03.mp4"):
            assert rec["error"]["type"] == "WorkerCrashed" and rec["attempts"] == 2
        else:
            assert rec == local[rid]
    assert fake.max_pending == 3  # the in-flight window is honoured
    assert {"num_cpus": 1, "max_retries": 1} in fake.options  # prepare tasks retried once by Ray
    assert any(o.get("max_task_retries") == 1 for o in fake.options)  # actor calls retried once
    assert fake.killed == 2  # two CPU actors (workers=2), released at the end
