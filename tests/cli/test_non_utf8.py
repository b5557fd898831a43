"""File names and file contents that are not UTF-8 (issue 23, item 9): a video named with
bytes that are not UTF-8 is answered, batched and resumed; a questions, queries, manifest,
results or dataset file with such bytes is one error naming the file and line."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_error
from videopipe.batch.results import read_records
from videopipe.fingerprint import file_fingerprint

ASK = ("--model", "fake", "-n", "4", "--size", "56")
BAD_NAME = os.fsdecode(b"caf\xe9 \xff.mp4")  # Latin-1 bytes, as an old camera writes them


@pytest.fixture
def bad_named(video: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    dest = folder / BAD_NAME
    shutil.copy(video, dest)
    return dest


def test_fingerprint_of_a_non_utf8_name_and_unchanged_for_utf8(bad_named: Path, video: Path) -> None:
    assert len(file_fingerprint(bad_named)) == 40
    p = video.resolve()
    st = p.stat()
    h = hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode())
    with open(p, "rb") as f:
        h.update(f.read(1 << 20))  # the clip is smaller than 2 MiB: one chunk
    assert file_fingerprint(video) == h.hexdigest()  # token caches of UTF-8 names stay valid


def test_ask_and_batch_a_non_utf8_name(videopipe, bad_named: Path, tmp_path: Path) -> None:
    assert videopipe("ask", str(bad_named), "what?", *ASK).returncode == 0
    out = tmp_path / "r.jsonl"
    args = ("batch", str(bad_named.parent), "-q", "what?", *ASK, "--no-progress", "-o", str(out))
    first = videopipe(*args)
    assert first.returncode == 0, first.stderr
    (rec,) = read_records(out)
    assert os.fsencode(rec["video"]) == os.fsencode(bad_named)  # the very bytes of the name
    again = videopipe(*args)
    assert again.returncode == 0 and len(list(read_records(out))) == 1, again.stderr  # resumed


@pytest.mark.parametrize(
    ("name", "content", "args", "what"),
    [
        (
            "q.txt",
            b"first?\n\xff second?\n",
            ["batch", "{video}", "--questions", "{file}", "-o", "{tmp}/r.jsonl"],
            "questions file",
        ),
        ("m.csv", b"video,question\n\xe9.mp4,hi\n", ["batch", "{file}", "-o", "{tmp}/r.jsonl"], "manifest"),
        (
            "m.jsonl",
            b'{"video": "\xe9.mp4"}\n',
            ["batch", "{file}", "-q", "x", "-o", "{tmp}/r.jsonl"],
            "manifest",
        ),
        ("q.txt", b"ok\n\xff\n", ["search", "--index", "{tmp}", "--queries", "{file}"], "queries file"),
        (
            "d.jsonl",
            b'{"id": "\xff"}\n',
            ["eval", "--dataset", "{file}", "--videos", "{tmp}"],
            "dataset file",
        ),
    ],
)
def test_invalid_utf8_in_an_input_file(
    videopipe, video: Path, tmp_path: Path, name: str, content: bytes, args: list[str], what: str
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    model = [] if args[0] == "search" else ["--model", "fake"]
    r = videopipe(*[a.format(video=video, file=f, tmp=tmp_path) for a in args], *model)
    assert_one_error(r, what, str(f), "not UTF-8", "line")


def test_garbage_parquet_dataset(videopipe, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(os.urandom(2000))
    assert_one_error(
        videopipe("eval", "--dataset", str(garbage), "--videos", str(tmp_path)), "garbage.parquet", "Parquet"
    )
