"""The local executor: fault isolation (error records, worker crashes), staged layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from videopipe import errors
from videopipe.batch.inputs import load_jobs
from videopipe.batch.jobs import JobSpec
from videopipe.batch.local import LocalExecutor
from videopipe.batch.pool import BatchAbort
from videopipe.batch.records import VOLATILE_FIELDS
from videopipe.batch.results import read_records
from videopipe.batch.run import run_batch


def _calls(count_file: Path) -> Counter[str]:
    return Counter(count_file.read_text().splitlines()) if count_file.exists() else Counter()


def _by_id(path: Path) -> dict[str, dict]:
    return {r["id"]: {k: v for k, v in r.items() if k not in VOLATILE_FIELDS} for r in read_records(path)}


@pytest.fixture(scope="module")
def full_run(video_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """Two full workers; the fake runner segfaults on good05."""
    d = tmp_path_factory.mktemp("full")
    out, count = d / "r.jsonl", d / "calls.txt"
    spec = JobSpec(factory="batch_fakes:runner", kwargs={"count_file": str(count), "segv_on": "good05"})
    jobs = load_jobs(video_folder, questions=["what?"])
    summary = run_batch(jobs, spec, out=out, executor=LocalExecutor(workers=2), progress=False)
    return out, count, summary


def test_bad_files_give_error_records_and_the_batch_goes_on(full_run) -> None:
    out, _, summary = full_run
    recs = list(read_records(out))
    assert len(recs) == 12 and len({r["id"] for r in recs}) == 12
    status = {Path(r["video"]).name: (r["status"], (r["error"] or {}).get("type")) for r in recs}
    for bad in ("empty.mp4", "corrupt_random.mp4", "corrupt_truncated.mp4"):
        kind, etype = status[bad]
        assert kind == "error" and issubclass(getattr(errors, etype), errors.DecodeError), (bad, etype)
    assert status["good05.mp4"] == ("error", "WorkerCrashed")
    assert sum(s == ("ok", None) for s in status.values()) == 8
    assert (summary.done, summary.failed, summary.skipped, summary.exit_code) == (8, 4, 0, 1)


def test_segfault_is_retried_once_then_marked_failed(full_run) -> None:
    out, count, _ = full_run
    calls = _calls(count)
    assert calls["good05.mp4\twhat?"] == 2  # first try + one retry
    assert all(n == 1 for key, n in calls.items() if not key.startswith("good05"))
    crashed = next(r for r in read_records(out) if r["video"].endswith("good05.mp4"))
    assert crashed["attempts"] == 2 and "SIGSEGV" in crashed["error"]["message"]
    ok = [r for r in read_records(out) if r["status"] == "ok"]
    assert all(r["attempts"] == 1 and r["answer"].endswith("has 16 frames; q=what?") for r in ok)


def test_staged_layout_matches_and_survives_crashes_in_both_stages(
    full_run, video_folder: Path, tmp_path: Path
) -> None:
    """One prepare worker feeding one model worker: the prepare stage segfaults on good02,
    the model stage is SIGKILLed (like an OOM kill) on good06; the rest equals the full run."""
    out, count = tmp_path / "r.jsonl", tmp_path / "calls.txt"
    spec = JobSpec(
        factory="batch_fakes:runner",
        kwargs={"count_file": str(count), "kill_on": "good06"},
        prepare_factory="batch_fakes:preparer",
        prepare_kwargs={"count_file": str(count), "segv_on": "good02"},
    )
    jobs = load_jobs(video_folder, questions=["what?"])
    summary = run_batch(
        jobs, spec, out=out, executor=LocalExecutor(workers=1, model_workers=1, prefetch=2), progress=False
    )
    staged, full = _by_id(out), _by_id(full_run[0])
    assert set(staged) == set(full)
    crashed = {
        Path(r["video"]).name for r in staged.values() if (r["error"] or {}).get("type") == "WorkerCrashed"
    }
    assert crashed == {"good02.mp4", "good06.mp4"}
    for rid, rec in staged.items():
        name = Path(rec["video"]).name
        if name not in ("good02.mp4", "good06.mp4", "good05.mp4"):
            assert rec == full[rid], name
    calls = _calls(count)
    assert calls["prepare good02.mp4"] == 2 and calls["good06.mp4\twhat?"] == 2
    assert calls["prepare good06.mp4"] == 1  # the model-stage retry reuses the prepared value
    assert summary.failed == 5 and summary.exit_code == 1


def test_runner_that_cannot_be_built_aborts_the_batch(video_folder: Path, tmp_path: Path) -> None:
    jobs = load_jobs(video_folder, questions=["q"])[:2]
    with pytest.raises(BatchAbort, match="weights missing"):
        run_batch(
            jobs,
            JobSpec("batch_fakes:broken_runner"),
            out=tmp_path / "r.jsonl",
            executor=LocalExecutor(),
            progress=False,
        )
    assert list(read_records(tmp_path / "r.jsonl")) == []


def test_layouts_pick_worker_roles() -> None:
    from videopipe.batch.pool import LocalPool

    trivial = JobSpec("batch_fakes:runner")
    staged = JobSpec("batch_fakes:runner", prepare_factory="batch_fakes:preparer")
    cases = [
        (trivial, {"workers": 2}, ["full", "full"]),
        (trivial, {"workers": 3, "model_workers": 1}, ["full"]),  # nothing to prepare ahead
        (staged, {"workers": 2, "model_workers": 1}, ["prepare", "prepare", "answer"]),
    ]
    for spec, kwargs, roles in cases:
        pool = LocalPool(spec, **kwargs)
        pool._start_all()
        try:
            assert [w.role for w in pool._pool] == roles
        finally:
            pool._shutdown(force=True)


def test_a_hung_worker_is_stopped_after_the_task_timeout(video_folder: Path, tmp_path: Path) -> None:
    lst = tmp_path / "videos.txt"
    lst.write_text("".join(f"{video_folder / n}\n" for n in ("good00.mp4", "good01.mp4", "good02.mp4")))
    jobs = load_jobs(lst, questions=["q"])
    out, count = tmp_path / "r.jsonl", tmp_path / "calls.txt"
    spec = JobSpec(factory="batch_fakes:runner", kwargs={"count_file": str(count), "hang_on": "good01"})
    summary = run_batch(jobs, spec, out=out, executor=LocalExecutor(task_timeout_s=10.0), progress=False)
    recs = {Path(r["video"]).name: r for r in read_records(out)}
    assert recs["good01.mp4"]["error"]["type"] == "TaskTimeout"
    assert "longer than 10 s" in recs["good01.mp4"]["error"]["message"]
    assert recs["good00.mp4"]["status"] == recs["good02.mp4"]["status"] == "ok"
    assert _calls(count)["good01.mp4\tq"] == 1  # a hang is not retried
    assert summary.failed == 1
