"""The API key stays out of the process list: ``videopipe serve`` takes it from
``VIDEOPIPE_API_KEY`` or ``--api-key-file``; ``--api-key`` on the command line still works and
warns. What ``ps`` shows is ``/proc/PID/cmdline``, read here for the server's process."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.test_usage_errors import _one_line_error
from tests.serve.conftest import cli_env, start_server, stop_server

KEY = "k3y-from-a-safe-place-0123456789"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _serves_with_key(url: str) -> None:
    assert httpx.get(url + "/v1/models", timeout=10).status_code == 401
    ok = httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("source", ["env", "file"])
def test_the_key_is_not_in_the_process_list(source: str, tmp_path: Path) -> None:
    args: tuple[str, ...] = ("--model", "fake", "--device", "cpu")
    env = cli_env()
    env.pop("VIDEOPIPE_API_KEY", None)
    if source == "env":
        env["VIDEOPIPE_API_KEY"] = KEY
    else:
        (tmp_path / "key").write_text(KEY + "\n")
        args += ("--api-key-file", str(tmp_path / "key"))
    server = start_server(*args, log=tmp_path / "serve.log", env=env)
    try:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        assert b"fake" in cmdline and KEY.encode() not in cmdline  # what `ps` shows
        _serves_with_key(server.url)
        assert "warning" not in server.output() or "--api-key" not in server.output()
    finally:
        stop_server(server)


def test_a_key_on_the_command_line_works_and_warns(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("VIDEOPIPE_API_KEY", None)
    server = start_server(
        "--model", "fake", "--device", "cpu", "--api-key", KEY, log=tmp_path / "s.log", env=env
    )
    try:
        _serves_with_key(server.url)
        warnings = [
            line for line in server.output().splitlines() if "warning" in line and "--api-key" in line
        ]
        assert len(warnings) == 1 and "process list" in warnings[0] and KEY not in warnings[0], (
            server.output()
        )
    finally:
        stop_server(server)


def test_bad_key_files_are_one_line(videopipe, tmp_path: Path) -> None:
    missing = tmp_path / "no-key"
    _one_line_error(videopipe("serve", "--model", "fake", "--api-key-file", str(missing)), str(missing))
    (tmp_path / "empty").write_text("\n")
    _one_line_error(videopipe("serve", "--model", "fake", "--api-key-file", str(tmp_path / "empty")), "empty")
    (tmp_path / "k").write_text(KEY)
    r = videopipe("serve", "--model", "fake", "--api-key-file", str(tmp_path / "k"), "--api-key", "x")
    _one_line_error(r, "not both")
