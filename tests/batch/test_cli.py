"""`videopipe batch` end to end in a subprocess (fake runner via --runner): exit codes,
summary, SIGKILL / Ctrl-C midway and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from videopipe.batch.results import read_records

ROOT = Path(__file__).resolve().parents[2]


def _cmd(folder: Path, out: Path, count: Path, *extra: str, **runner_kwargs: object) -> list[str]:
    kwargs = {"count_file": str(count), **runner_kwargs}
    return [
        sys.executable, "-m", "videopipe", "batch", str(folder), "--out", str(out), "-q", "what?",
        "--runner", "batch_fakes:runner", "--runner-kwargs", json.dumps(kwargs), "--no-progress", *extra,
    ]  # fmt: skip


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _calls(count: Path) -> Counter[str]:
    return Counter(count.read_text().splitlines()) if count.exists() else Counter()


def _lines(out: Path) -> list[str]:
    return out.read_text().splitlines(keepends=True) if out.exists() else []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_wait(cmd: list[str], out: Path, n: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,  # a test run started in the background inherits SIGINT ignored
    )
    deadline = time.monotonic() + 240
    while len(_lines(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the batch wrote no records"
        time.sleep(0.05)
    return proc


def test_folder_with_bad_files(video_folder: Path, tmp_path: Path, fakes_on_path: str) -> None:
    out, count = tmp_path / "r.jsonl", tmp_path / "calls.txt"
    r = _run(_cmd(video_folder, out, count, "--workers", "2", "--parquet"))
    assert r.returncode == 1, r.stderr
    recs = list(read_records(out))
    assert len(recs) == 12 and len({x["id"] for x in recs}) == 12
    assert sum(x["status"] == "ok" for x in recs) == 9
    errors = sorted(Path(x["video"]).name for x in recs if x["status"] == "error")
    assert errors == ["corrupt_random.mp4", "corrupt_truncated.mp4", "empty.mp4"]
    assert "batch summary" in r.stdout and "failed records (3)" in r.stdout
    assert out.with_suffix(".parquet").is_file()
    # the empty file is refused by the driver's request check (check_request), before any worker
    assert sum(_calls(count).values()) == 11
    empty = next(x for x in recs if x["video"].endswith("empty.mp4"))
    assert empty["attempts"] == 0 and "the file is empty (0 bytes)" in empty["error"]["message"]
    # rerun: everything is skipped, nothing recomputed, and the exit code still says "failed"
    before = out.read_bytes()
    count2 = tmp_path / "calls2.txt"
    r2 = _run(_cmd(video_folder, out, count2))
    assert r2.returncode == 1 and "3 failed before" in r2.stdout
    assert out.read_bytes() == before and not count2.exists()


def test_sigkill_midway_then_resume(video_folder: Path, tmp_path: Path, fakes_on_path: str) -> None:
    out, count1, count2 = tmp_path / "r.jsonl", tmp_path / "calls1.txt", tmp_path / "calls2.txt"
    proc = _start_and_wait(_cmd(video_folder, out, count1, sleep_s=0.5), out, 3)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.communicate()
    first = _lines(out)
    assert 3 <= len(first) < 12
    assert first[-1].endswith("\n")  # records are whole lines
    done_first = {json.loads(x)["id"] for x in first}

    r = _run(_cmd(video_folder, out, count2))
    assert r.returncode == 1, r.stderr
    lines = _lines(out)
    assert lines[: len(first)] == first  # finished records untouched
    recs = [json.loads(x) for x in lines]
    ids = [x["id"] for x in recs]
    assert len(ids) == 12 and len(set(ids)) == 12  # nothing lost, no duplicates
    second = {x["id"]: Path(x["video"]).name for x in recs if x["id"] not in done_first and x["attempts"]}
    # the rerun called the runner exactly once for each record the first run had not written
    # (but the empty file's: the driver's request check refuses it, attempts 0, no runner call)
    assert _calls(count2) == Counter(f"{name}\twhat?" for name in second.values())
    assert "skipped" in r.stdout and str(len(first)) in r.stdout


def test_ctrl_c_stops_cleanly(video_folder: Path, tmp_path: Path, fakes_on_path: str) -> None:
    out, count = tmp_path / "r.jsonl", tmp_path / "calls.txt"
    proc = _start_and_wait(_cmd(video_folder, out, count, sleep_s=0.5), out, 2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout
    assert stderr.splitlines()[-1] == "videopipe: interrupted", stderr  # the line every command ends with
    lines = _lines(out)
    assert all(x.endswith("\n") and json.loads(x)["id"] for x in lines)
    assert len(lines) < 12
    # and it resumes to completion
    r = _run(_cmd(video_folder, out, tmp_path / "calls2.txt"))
    assert r.returncode == 1 and len(list(read_records(out))) == 12
    assert os.path.getsize(out) == sum(len(x.encode()) for x in _lines(out))
