"""Local worker count: never more workers than videos, capped by available memory with one
warning (issue 23, item 14)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from videopipe.batch.sizing import (
    WORKER_BASE_BYTES,
    WorkerCountWarning,
    available_memory_bytes,
    worker_count,
    worker_memory_bytes,
)

GiB = 1 << 30


def test_never_more_workers_than_jobs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the job cap is silent
        assert worker_count(100, jobs=1, per_worker=GiB, available=64 * GiB) == 1
        assert worker_count(4, jobs=10, per_worker=GiB, available=64 * GiB) == 4
        assert worker_count(4, jobs=0, per_worker=GiB, available=None) == 1


def test_memory_caps_with_one_warning() -> None:
    with pytest.warns(WorkerCountWarning, match=r"--workers 100: starting 23 worker\(s\)") as got:
        assert worker_count(100, jobs=500, per_worker=GiB, available=23 * GiB + 5) == 23
    assert len(got) == 1
    with pytest.warns(WorkerCountWarning):
        assert worker_count(8, jobs=8, per_worker=4 * GiB, available=GiB) == 1  # at least one


def test_worker_memory_counts_a_local_model_only_when_the_worker_runs_it(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 5000)
    (tmp_path / "config.json").write_text("{}")
    kwargs = {"config": {"model": str(tmp_path)}}
    assert worker_memory_bytes(kwargs, runs_model=True) == WORKER_BASE_BYTES + 5000
    assert worker_memory_bytes(kwargs, runs_model=False) == WORKER_BASE_BYTES


def test_available_memory_is_read() -> None:
    got = available_memory_bytes()
    assert got is None or got > 0


def test_local_executor_starts_one_worker_for_one_video(monkeypatch) -> None:
    from videopipe.batch import local
    from videopipe.batch.jobs import Job, JobSpec, VideoTask

    started = {}

    class Pool:
        def __init__(self, spec, *, workers, **kwargs) -> None:
            started["workers"] = workers

        def run(self, tasks, emit) -> None:
            pass

    monkeypatch.setattr(local, "LocalPool", Pool)
    task = VideoTask(video="/v.mp4", jobs=(Job(id="a", video="/v.mp4", question="q"),))
    local.LocalExecutor(workers=100).run([task], JobSpec(factory="m:f"), lambda rec: None)
    assert started["workers"] == 1
