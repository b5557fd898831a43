"""Usage errors through the installed ``videopipe`` executable: exit code 2 and one line on
stderr that names the problem (typer >= 0.29 raises its vendored click's exceptions, which an
in-process test of the app would not have caught the way users see them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def _one_line_error(r: Run, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.err_lines) == 1, r.stderr
    line = r.err_lines[0]
    assert line.startswith("videopipe: error: "), line
    assert "internal error" not in line and "Traceback" not in r.stderr
    for needle in needles:
        assert needle in line, line
    return line


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["frames", "{video}", "-n", "0"], ["--num-frames", "greater than or equal to 1"]),
        (["frames", "{video}", "-n", "abc"], ["--num-frames", "integer"]),
        (["ask", "{video}", "what?", "--num-frames", "0"], ["--num-frames"]),
        (["frames", "{video}", "--nope"], ["--nope"]),
        (["info", "{video}", "--nope"], ["--nope"]),
        (["frames"], ["Missing argument", "video"]),
        (["ask", "{video}"], ["Missing argument", "question"]),
        (["batch", "{video}"], ["Missing option", "--out"]),
        (["eval", "--videos", "."], ["Missing option", "--dataset"]),
        (["serve", "--port", "0"], ["--port", "greater than or equal to 1"]),
        (["serve", "--max-queue", "0"], ["--max-queue"]),
        (["nosuch"], ["No such command", "nosuch"]),
    ],
)
def test_usage_error_exits_2_with_one_line(
    videopipe, video: Path, args: list[str], needles: list[str]
) -> None:
    line = _one_line_error(videopipe(*[a.format(video=video) for a in args]), *needles)
    where = "videopipe" if args[0] == "nosuch" else f"videopipe {args[0]}"
    assert line.endswith(f"(try '{where} --help')"), line  # where to read on


@pytest.mark.parametrize("command", ["frames", "info", "ask"])
def test_nonexistent_file_names_the_file(videopipe, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "no-such-video.mp4"
    args = [command, str(missing)] + (["what?", "--model", "fake"] if command == "ask" else [])
    _one_line_error(videopipe(*args), str(missing), "no such file")


def test_directory_instead_of_a_file_names_it(videopipe, tmp_path: Path) -> None:
    _one_line_error(videopipe("frames", str(tmp_path)), str(tmp_path), "directory")


def test_unreadable_file_names_the_file(videopipe, video: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked.mp4"
    shutil.copy(video, locked)
    locked.chmod(0)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads a mode-000 file; drop the capabilities that let it
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv is missing: a mode-000 file stays readable")
        prefix = (setpriv, "--bounding-set", "-dac_override,-dac_read_search")
    try:
        r = videopipe("frames", str(locked), prefix=prefix)
    finally:
        locked.chmod(0o644)
    _one_line_error(r, "locked.mp4", "not readable")


def test_help_exits_0_and_bare_command_shows_help(videopipe) -> None:
    for args in (["--help"], ["frames", "--help"], ["ask", "--help"]):
        r = videopipe(*args)
        assert r.returncode == 0 and "Usage" in r.stdout and not r.stderr, (args, r.stderr)
    r = videopipe()  # no command: the help, as a usage error (exit 2, like click)
    assert r.returncode == 2 and "Usage" in r.stdout + r.stderr and "error" not in r.stderr


def test_real_click_errors_are_caught_too(monkeypatch, capsys) -> None:
    # typer < 0.29 (and any code that raises click's own exceptions) gives click.UsageError
    click = pytest.importorskip("click")
    from videopipe.cli import app as cli_app

    def raises(**_: object) -> None:
        raise click.BadParameter("must be positive", param_hint="'--thing'")

    monkeypatch.setattr(cli_app, "app", raises)
    assert cli_app.main(["whatever"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["videopipe: error: Invalid value for '--thing': must be positive"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["ask", "{video}", "what?", "--model", "fake:nope"], ["'fake:nope'", "letter, paren"]),
        (
            ["index", "{video}", "--index", "{tmp}/i", "--embedder", "os:system"],
            ["'os:system'", "not an embedder"],
        ),
        (["index", "{video}", "--index", "{tmp}/i", "--embedder", "builtins:print"], ["not an embedder"]),
        (
            ["index", "{video}", "--index", "{tmp}/i", "--embedder", "subprocess:Popen"],
            ["without embed_texts"],
        ),
        (["index", "{video}", "--index", "{tmp}/i", "--embedder", "os:sep"], ["is not callable"]),
    ],
)
def test_a_plugin_spec_that_names_no_plugin_is_refused_before_it_is_called(
    videopipe, video: Path, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    """``--model fake:nope`` and ``--embedder module:attr`` naming something that is not an
    embedder class (or a declared embedder factory): one line, exit 2, nothing called
    (``builtins:print`` called with no arguments would print an empty line)."""
    r = videopipe(*[a.format(video=video, tmp=tmp_path) for a in args])
    _one_line_error(r, *needles)
    assert r.stdout == ""
    assert not (tmp_path / "i" / "videopipe-index.json").exists()
