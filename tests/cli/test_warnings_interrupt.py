"""How the CLI shows videopipe's warnings and a Ctrl-C: one line each."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import cli_env
from tests.decode.helpers import gen_video


def test_truncated_video_warning_is_one_line(videopipe, tmp_path: Path) -> None:
    full = gen_video("h264_bframes").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full[: int(len(full) * 0.6)])
    r = videopipe("info", str(cut), "--json", "--backend", "pyav")
    assert r.returncode == 0, r.stderr
    assert len(r.err_lines) == 1, r.stderr  # no "warnings.warn(" source line, no category prefix
    assert r.err_lines[0].startswith(f"videopipe: warning: {cut}: the file is truncated"), r.stderr
    assert "lost" in r.err_lines[0]


def test_library_warnings_keep_pythons_format_outside_the_cli() -> None:
    # the hook is installed by the CLI's main only: importing the CLI changes nothing
    code = "import warnings, videopipe.cli.app; print(warnings.showwarning.__module__)"
    r = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True)
    assert r.stdout.strip() == "warnings", r.stderr


_SLOW_COMMAND = """
import sys, time
import videopipe.decode
def slow_open(*args, **kwargs):
    print("READY", flush=True)
    time.sleep(60)
videopipe.decode.open_video = slow_open
from videopipe.cli.app import main
sys.argv = ["videopipe", "info", sys.argv[1]]
main()
"""


def test_ctrl_c_in_a_command_prints_interrupted_and_exits_130(video: Path) -> None:
    p = subprocess.Popen(
        [sys.executable, "-c", _SLOW_COMMAND, str(video)],
        # a test run started in the background (`cmd &`) inherits SIGINT ignored: not the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "READY"  # inside the command
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert err.strip().splitlines() == ["videopipe: interrupted"], err
    assert time.perf_counter() - t0 < 10
