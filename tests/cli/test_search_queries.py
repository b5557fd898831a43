"""``videopipe search --queries FILE``: many queries in one run, through the executable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.testing.embedders import HashTextEmbedder
from videopipe.testing.subtitled import make_tiny_video, write_srt

EXE = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))


def _search(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``videopipe search ARGS`` with the index's custom embedder given (an index folder never
    names code to import)."""
    args = (*args, "--embedder", "videopipe.testing.embedders:HashTextEmbedder")
    return subprocess.run([EXE, "search", *args], capture_output=True, text=True, input=stdin, timeout=300)


def test_many_queries_in_one_run(tmp_path: Path) -> None:
    video = make_tiny_video(tmp_path / "v.mp4", duration_s=60)
    write_srt(tmp_path / "v.srt", [(2, 6, "alpha beta gamma"), (40, 44, "delta epsilon zeta")])
    idx = tmp_path / "idx"
    index_paths([video], idx, IndexOptions(embedder=HashTextEmbedder(), text="subtitles"))
    q = tmp_path / "q.txt"
    q.write_text("alpha beta gamma\n\ndelta epsilon zeta\n")
    r = _search("--queries", str(q), "--index", str(idx), "-k", "1", "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["results"]
    assert [x["query"] for x in results] == ["alpha beta gamma", "delta epsilon zeta"]  # blank lines skipped
    assert results[0]["hits"][0]["start_s"] < 20 <= results[1]["hits"][0]["start_s"]
    assert results[1]["hits"][0]["match"]["text"] == "delta epsilon zeta"
    r = _search("--queries", "-", "--index", str(idx), "-k", "1", stdin="alpha beta gamma\n")
    assert r.returncode == 0 and r.stdout.startswith("query: alpha beta gamma\n 1.")
    assert "subtitles 2.00-6.00s: alpha beta gamma" in r.stdout


def test_bad_queries_are_one_line_errors(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    r = _search("--queries", str(tmp_path / "missing.txt"), "--index", str(idx))
    assert (
        r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "missing.txt does not exist" in r.stderr
    )
    (tmp_path / "empty.txt").write_text("\n \n")
    r = _search("--queries", str(tmp_path / "empty.txt"), "--index", str(idx))
    assert r.returncode == 2 and "holds no query" in r.stderr
    r = _search("a query", "--queries", str(tmp_path / "empty.txt"), "--index", str(idx))
    assert r.returncode == 2 and "not two of them" in r.stderr
