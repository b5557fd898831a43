"""The resumable results file: atomic lines, partial-line recovery, retry, lock, Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videopipe.batch.jobs import Job
from videopipe.batch.records import error_record, ok_record
from videopipe.batch.results import ResultStore, read_records, write_parquet
from videopipe.errors import InputError, VideoPipeError
from videopipe.types import Answer, Hit, Stats


def _ok(i: int) -> dict:
    job = Job(id=f"id{i}", video=f"/v/{i}.mp4", question="q")
    ans = Answer(
        text=f"answer {i}",
        evidence=(Hit(video="/v", start_s=1.0, end_s=2.0, score=0.5),),
        stats=Stats(frames_decoded=i),
    )
    return ok_record(job, ans, elapsed_s=0.1)


def _err(i: int) -> dict:
    return error_record(Job(id=f"id{i}", video=f"/v/{i}.mp4", question="q"), "DecodeError", "bad file")


def test_records_share_one_schema() -> None:
    assert set(_ok(1)) == set(_err(2))
    assert _ok(1)["evidence"] == [{"start_s": 1.0, "end_s": 2.0, "score": 0.5, "text": ""}]
    assert _err(2)["error"] == {"type": "DecodeError", "message": "bad file"}
    with pytest.raises(TypeError, match="expected an Answer"):
        ok_record(Job("x", "/v.mp4", "q"), "not an answer")  # type: ignore[arg-type]


def test_append_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultStore(out) as store:
        store.append(_ok(1))
        store.append(_err(2))
    with ResultStore(out) as store:
        assert store.done_ids == {"id1", "id2"}
        assert store.records["id2"]["status"] == "error"
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["id1", "id2"]


def test_trailing_partial_line_is_truncated_not_counted(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultStore(out) as store:
        store.append(_ok(1))
    good = out.read_bytes()
    partial = json.dumps(_ok(2)).encode()[:37]  # a write cut short by a kill
    out.write_bytes(good + partial)
    assert [r["id"] for r in read_records(out)] == ["id1"]
    with ResultStore(out) as store:
        assert store.truncated_bytes == len(partial)
        assert store.done_ids == {"id1"}
        store.append(_ok(2))
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["id1", "id2"]


def test_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text('{"id": "a"}\n{oops\n{"id": "b"}\n')
    with pytest.raises(InputError, match=r"r.jsonl:2 is not a JSON record"):
        ResultStore(out)


def test_retry_failed_drops_error_records(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultStore(out) as store:
        store.append(_ok(1))
        store.append(_err(2))
    with ResultStore(out, retry_failed=True) as store:
        assert store.done_ids == {"id1"}
        store.append(_ok(2))
    assert [(r["id"], r["status"]) for r in read_records(out)] == [("id1", "ok"), ("id2", "ok")]


def test_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultStore(out):
        with pytest.raises(VideoPipeError, match="another videopipe batch run"):
            ResultStore(out)
    ResultStore(out).close()  # the lock is released on close


def test_parquet_roundtrip(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write_parquet([_ok(1), _err(2)], tmp_path / "r.parquet")
    rows = pq.read_table(path).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert rows[0]["answer"] == "answer 1" and rows[0]["evidence"][0]["end_s"] == 2.0
    assert json.loads(rows[0]["stats_json"])["frames_decoded"] == 1
    assert rows[1]["error_type"] == "DecodeError" and rows[1]["answer"] is None


@pytest.mark.parametrize(
    "content",
    [b"hello\nworld", b"world", b"# notes\n\n{oops", '{"id": "a"}\n\xe9t\xe9'.encode("latin-1")],
)
def test_a_file_that_is_not_ours_is_never_modified(tmp_path: Path, content: bytes) -> None:
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    with pytest.raises(InputError, match="notes.txt"):
        ResultStore(out)
    assert out.read_bytes() == content


def test_invalid_utf8_record_is_one_input_error(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_bytes(b'{"id": "a", "answer": "\xff"}\n')
    with pytest.raises(InputError, match=r"r.jsonl:1 is not a JSON record"):
        list(read_records(out))
    with pytest.raises(InputError):
        ResultStore(out)
    assert out.read_bytes() == b'{"id": "a", "answer": "\xff"}\n'
