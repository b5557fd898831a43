"""`videopipe batch` with the pipeline split in two stages (decode workers feed model workers):
same answers as the unsplit pipeline, bad videos become their own error records, the decode
workers never load the model, and cached tokens skip decoding."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from videopipe import errors
from videopipe.batch.inputs import load_jobs
from videopipe.batch.jobs import JobSpec
from videopipe.batch.local import LocalExecutor
from videopipe.batch.records import VOLATILE_FIELDS
from videopipe.batch.results import read_records
from videopipe.batch.run import run_batch
from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
from videopipe.testing.videos import make_video, scenes_video

QUESTIONS = ["What colour is the screen?", "Is it red?"]
COLORS = ("red", "green", "blue")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("overlap") / "videos"
    d.mkdir()
    for k, color in enumerate(COLORS):
        spec = scenes_video((12, 12, 12), needle=(1, color), width=112, height=56, seed=20 + k)
        shutil.copy(make_video(spec), d / f"{color}.mp4")
    good = (d / "red.mp4").read_bytes()
    (d / "corrupt.mp4").write_bytes(good[:200] + bytes(range(256)) * 8)
    (d / "empty.mp4").write_bytes(b"")
    return d


def _cfg(tmp: Path, **kw) -> PipelineConfig:
    return PipelineConfig(model="fake", num_frames=8, size_px=56, cache_dir=str(tmp / "cache"), **kw)


def _records(path: Path) -> dict[tuple[str, str], dict]:
    """Records by (video stem, question), without timings and memory (they vary run to run)."""
    out = {}
    for r in read_records(path):
        rec = {k: v for k, v in r.items() if k not in VOLATILE_FIELDS}
        if rec["stats"]:
            rec["stats"] = {
                k: v
                for k, v in rec["stats"].items()
                if k not in ("seconds", "peak_memory_mb", "first_token_s")
            }
        out[(Path(r["video"]).stem, r["question"])] = rec
    return out


def _spy_spec(cfg: PipelineConfig, log: Path) -> JobSpec:
    spec = JobSpec.for_pipeline(cfg)
    assert spec.prepare_factory == "videopipe.batch.jobs:pipeline_preparer"
    return replace(
        spec,
        prepare_factory="batch_fakes:spy_pipeline_preparer",
        prepare_kwargs={**spec.prepare_kwargs, "log_file": str(log)},
    )


def test_staged_batch_equals_the_unsplit_pipeline(folder: Path, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, cache_tokens=False)
    log = tmp_path / "prepare.log"
    jobs = load_jobs(folder, questions=QUESTIONS)
    out = tmp_path / "r.jsonl"
    summary = run_batch(
        jobs, _spy_spec(cfg, log), out=out, executor=LocalExecutor(workers=1, model_workers=1), progress=False
    )
    recs = _records(out)
    assert len(recs) == 10 and (summary.done, summary.failed, summary.videos) == (6, 4, 5)
    assert summary.exit_code == 1

    # the unsplit path, in this process: Pipeline.ask per (video, question)
    pipe = Pipeline(config=cfg)
    for color in COLORS:
        for q in QUESTIONS:
            rec, ans = recs[(color, q)], pipe.ask(folder / f"{color}.mp4", q)
            assert rec["status"] == "ok" and rec["answer"] == ans.text
            assert [(e["start_s"], e["end_s"], e["score"]) for e in rec["evidence"]] == [
                (h.start_s, h.end_s, h.score) for h in ans.evidence
            ]
            assert rec["stats"]["frames_selected"] == ans.stats.frames_selected == 8
        assert recs[(color, QUESTIONS[0])]["answer"] == f"The screen is {color}."

    # a video that fails to decode fails in the prepare worker: its own records, file named
    for bad in ("corrupt", "empty"):
        for q in QUESTIONS:
            rec = recs[(bad, q)]
            assert rec["status"] == "error" and f"{bad}.mp4" in rec["error"]["message"], rec
            assert issubclass(getattr(errors, rec["error"]["type"]), errors.VideoPipeError), rec

    # the decode worker prepared every video (good ones logged) without loading the model
    lines = log.read_text().splitlines()
    assert sorted(line.split()[1] for line in lines) == ["blue.mp4", "green.mp4", "red.mp4"]
    assert all(line.endswith("loaded=False cached=False") for line in lines)
    assert {line.split()[0] for line in lines} != {str(os.getpid())}

    # resumable as before: a rerun skips every record and recomputes nothing
    again = run_batch(jobs, JobSpec.for_pipeline(cfg), out=out, executor=LocalExecutor(), progress=False)
    assert (again.skipped, again.done, again.failed, again.previously_failed) == (10, 0, 0, 4)


def test_full_workers_give_the_same_records(folder: Path, tmp_path: Path) -> None:
    """The CPU-only layout (one worker does both stages) and the staged one agree."""
    cfg = _cfg(tmp_path, cache_tokens=False)
    jobs = load_jobs(folder, questions=QUESTIONS[:1])
    a, b = tmp_path / "full.jsonl", tmp_path / "staged.jsonl"
    spec = JobSpec.for_pipeline(cfg)
    run_batch(jobs, spec, out=a, executor=LocalExecutor(workers=1), progress=False)
    run_batch(jobs, spec, out=b, executor=LocalExecutor(workers=1, model_workers=1), progress=False)
    assert _records(a) == _records(b)


def test_cached_tokens_skip_decoding_in_the_prepare_worker(folder: Path, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)  # token cache on
    jobs = load_jobs(folder, questions=QUESTIONS[:1], glob="[rgb]*.mp4")
    assert len(jobs) == 3
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    run_batch(jobs, JobSpec.for_pipeline(cfg), out=first, executor=LocalExecutor(), progress=False)
    log = tmp_path / "prepare.log"
    ex = LocalExecutor(workers=1, model_workers=1)
    summary = run_batch(jobs, _spy_spec(cfg, log), out=second, executor=ex, progress=False)
    assert summary.done == 3
    lines = log.read_text().splitlines()
    assert len(lines) == 3 and all(line.endswith("loaded=False cached=True") for line in lines)
    r1, r2 = _records(first), _records(second)
    for key, rec in r2.items():
        assert rec["stats"]["cached"] is True and rec["stats"]["frames_decoded"] == 0, key
        assert rec["answer"] == r1[key]["answer"] and rec["evidence"] == r1[key]["evidence"]
        assert r1[key]["stats"]["cached"] is False and r1[key]["stats"]["frames_decoded"] >= 8
