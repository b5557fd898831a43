"""One error type crosses every boundary: for the same bad file, `ask`, a batch record and an
index report show the same one-line message (run through the installed executable)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("videopipe")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "videopipe", *args]
    env = dict(
        os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), HF_HUB_OFFLINE="1"
    )
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("damage", ["no_moov", "random_bytes"])
def test_ask_batch_and_index_say_the_same_line_for_a_bad_file(tmp_path, damage):
    good = make_video(scenes_video((10, 10)))
    folder = tmp_path / "videos"
    folder.mkdir()
    bad = folder / "bad.mp4"
    data = good.read_bytes()
    bad.write_bytes(data[:24] + bytes(2000) if damage == "no_moov" else os.urandom(3000))
    shutil.copy(good, folder / "good.mp4")

    ask = _run("ask", str(bad), "what?", "--model", "fake", "--no-cache", cwd=tmp_path)
    assert ask.returncode == 2
    lines = [ln for ln in ask.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("videopipe: error: ")
    message = lines[0].removeprefix("videopipe: error: ")
    assert message.startswith(str(bad)) and "@ 0x" not in message

    out = tmp_path / "out.jsonl"
    batch = _run("batch", str(folder), "-q", "what?", "--model", "fake", "--out", str(out), cwd=tmp_path)
    assert batch.returncode == 1  # one record failed, the other was answered
    records = {json.loads(ln)["video"]: json.loads(ln) for ln in out.read_text().splitlines()}
    assert records[str(folder / "good.mp4")]["status"] == "ok"
    assert records[str(bad)]["error"]["message"] == message

    index = _run("index", str(folder), "--index", str(tmp_path / "idx"), "--json", cwd=tmp_path)
    assert index.returncode == 1
    report = json.loads(index.stdout)
    assert report["failed"] == {str(bad): message}
    assert report["failed_types"] == {str(bad): "DecodeError"}
