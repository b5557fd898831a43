"""``videopipe serve`` refuses what it cannot serve before it listens: one line on stderr,
exit code 2 (the CLI's usage errors are in tests/cli)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.test_usage_errors import _one_line_error
from tests.serve.conftest import cli_env, free_port, start_server, stop_server


def test_an_allow_dir_that_is_no_folder_is_refused(videopipe, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    _one_line_error(
        videopipe("serve", "--model", "fake", "--allow-dir", str(missing)), str(missing), "not a directory"
    )


def test_a_model_that_cannot_load_fails_before_listening(videopipe, tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"model_type": "bert"}')
    r = videopipe("serve", "--model", str(tmp_path / "cfg"), "--allow-dir", str(tmp_path), "--port", "1")
    _one_line_error(r, "qwen2_5_vl")  # names the families it loads
    assert "serving" not in r.stderr


def test_a_bad_pipeline_option_is_refused(videopipe, tmp_path: Path) -> None:
    _one_line_error(
        videopipe("serve", "--model", "fake", "--sampler", "nope", "--allow-dir", str(tmp_path)), "nope"
    )


def test_the_root_folder_is_refused(videopipe, tmp_path: Path) -> None:
    for root in ("/", str(tmp_path) + "/.." * 40):
        r = videopipe("serve", "--model", "fake", "--allow-dir", root, "--port", str(free_port()))
        _one_line_error(r, "--allow-dir", "every file")
        assert "serving" not in r.stderr


def test_a_busy_port_is_one_line_before_serving(videopipe, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = videopipe("serve", "--model", "fake", "--allow-dir", str(tmp_path), "--port", str(port))
    line = _one_line_error(r, f"port {port} on 127.0.0.1 is in use", "--port")
    assert "serving" not in r.stderr, line


def test_a_host_that_is_not_here_is_one_line(videopipe, tmp_path: Path) -> None:
    for host, why in (("no-such-host.invalid", "cannot be resolved"), ("192.0.2.1", "not an address")):
        r = videopipe("serve", "--model", "fake", "--allow-dir", str(tmp_path), "--host", host)
        _one_line_error(r, f"--host {host}", why)
        assert "serving" not in r.stderr


def test_a_missing_index_is_refused_at_startup(videopipe, tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    r = videopipe("serve", "--model", "fake", "--allow-dir", str(tmp_path), "--index", str(missing))
    _one_line_error(r, str(missing))
    (tmp_path / "empty").mkdir()
    r = videopipe(
        "serve", "--model", "fake", "--allow-dir", str(tmp_path), "--index", str(tmp_path / "empty")
    )
    _one_line_error(r, str(tmp_path / "empty"), "not a videopipe index")


def test_the_home_folder_is_served_with_a_warning(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "serve.log"
    server = start_server("--model", "fake", "--allow-dir", str(home), log=log, env=cli_env(HOME=str(home)))
    try:
        warning = [
            line for line in server.output().splitlines() if "warning" in line and "--allow-dir" in line
        ]
        assert len(warning) == 1 and "home folder" in warning[0], server.output()
    finally:
        stop_server(server)
