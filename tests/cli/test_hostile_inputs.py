"""A property over the whole CLI (issue 23): every command, given a hostile file name, an
output it cannot write or a bad option value, exits 0, 1 or 2 with at most one error line
(exactly one when it fails), never 3 and never a traceback.

The matrix runs in-process through :func:`videopipe.cli.app.main` (the console script's own
entry point, so click's and typer's errors are handled exactly as for users) to keep it
quick; a sample of it runs through the installed executable in a subprocess."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from videopipe.cli.app import main

FAKE = ("--model", "fake", "-n", "4", "--size", "56")

#: where a hostile input goes ({p}); {tmp} is the test's folder, {video} a good clip
COMMANDS: dict[str, tuple[str, ...]] = {
    "ask": ("ask", "{p}", "what?", *FAKE),
    "batch": ("batch", "{p}", "-q", "what?", *FAKE, "--no-progress", "-o", "{tmp}/r.jsonl"),
    "batch --questions": ("batch", "{video}", "--questions", "{p}", *FAKE, "-o", "{tmp}/r.jsonl"),
    "eval": (
        "eval",
        "--dataset",
        "{p}",
        "--videos",
        "{tmp}",
        *FAKE,
        "--no-progress",
        "--out",
        "{tmp}/e.jsonl",
    ),
    "compare": ("compare", "{p}", "--model", "fake", "-n", "4", "--no-cache"),
    "index": ("index", "{p}", "--index", "{tmp}/ix", "-q"),
    "search": ("search", "--index", "{p}", "what?"),
    "search --queries": ("search", "--index", "{tmp}", "--queries", "{p}"),
    "transcribe": ("transcribe", "{p}"),
    "info": ("info", "{p}"),
    "frames": ("frames", "{p}", "-n", "2"),
    "ask --config": ("ask", "{video}", "what?", *FAKE, "--config", "{p}"),
}

#: where an output goes ({p})
OUTPUTS: dict[str, tuple[str, ...]] = {
    "batch -o": ("batch", "{video}", "-q", "what?", *FAKE, "--no-progress", "-o", "{p}"),
    "frames --out": ("frames", "{video}", "-n", "2", "--out", "{p}"),
    "transcribe --srt": ("transcribe", "{video}", "--srt", "{p}"),
    "compare --plot": ("compare", "{video}", "--model", "fake", "-n", "4", "--no-cache", "--plot", "{p}"),
}

NAMES = (
    "non-utf8",
    "leading-dash",
    "spaces-newline",
    "very-long",
    "directory",
    "fifo",
    "dev-null",
    "missing",
    "empty",
)
OUTPUT_NAMES = (
    "non-utf8",
    "spaces-newline",
    "very-long",
    "directory",
    "under-a-file",
    "missing-folder",
    "dev-null",
)

#: option, command line around it ({v}: the value)
OPTIONS: dict[str, tuple[str, ...]] = {
    "ask -n": ("ask", "{video}", "what?", "--model", "fake", "--size", "56", "-n", "{v}"),
    "ask --size": ("ask", "{video}", "what?", "--model", "fake", "-n", "4", "--size", "{v}"),
    "ask --max-new-tokens": ("ask", "{video}", "what?", *FAKE, "--max-new-tokens", "{v}"),
    "ask --max-visual-tokens": ("ask", "{video}", "what?", *FAKE, "--max-visual-tokens", "{v}"),
    "ask --retrieve": ("ask", "{video}", "what?", *FAKE, "--retrieve", "{v}", "--text", "none"),
    "ask --compressor": (
        "ask",
        "{video}",
        "what?",
        *FAKE,
        "--compressor",
        "segment_merge[pair_threshold={v}]",
    ),
    "frames -n": ("frames", "{video}", "-n", "{v}"),
    "batch --task-timeout-s": (
        "batch",
        "{video}",
        "-q",
        "x",
        *FAKE,
        "-o",
        "{tmp}/r.jsonl",
        "--task-timeout-s",
        "{v}",
    ),
    "batch --workers": (
        "batch",
        "{video}",
        "-q",
        "x",
        *FAKE,
        "--no-progress",
        "-o",
        "{tmp}/r.jsonl",
        "-j",
        "{v}",
    ),
    "index --window-s": ("index", "{video}", "--index", "{tmp}/ix", "-q", "--window-s", "{v}"),
    "index --target-recall": ("index", "{video}", "--index", "{tmp}/ix", "-q", "--target-recall", "{v}"),
    "search -k": ("search", "--index", "{tmp}/ix", "what?", "-k", "{v}"),
    "serve --port": ("serve", "--port", "{v}", "--model", "fake"),
    "compare --budgets": (
        "compare",
        "{video}",
        "--model",
        "fake",
        "-n",
        "4",
        "--no-cache",
        "--budgets",
        "{v}",
    ),
}
VALUES = ("nan", "inf", "-1", "1" + "0" * 30, "")


def hostile(name: str, tmp: Path, video: Path) -> str:
    """A path of kind ``name`` under ``tmp`` (made where it must exist)."""
    if name == "non-utf8":
        p = tmp / os.fsdecode(b"clip \xff\xfe.mp4")
        shutil.copy(video, p)
    elif name == "leading-dash":
        p = tmp / "-v.mp4"
        shutil.copy(video, p)
        return "-v.mp4"  # as typed: it reads as an option
    elif name == "spaces-newline":
        p = tmp / "my clip\nsecond line.mp4"
        shutil.copy(video, p)
    elif name == "very-long":
        p = tmp / ("x" * 300 + ".mp4")
    elif name == "directory":
        p = tmp / "a folder"
        p.mkdir()
    elif name == "fifo":
        p = tmp / "pipe.mp4"
        os.mkfifo(p)
    elif name == "dev-null":
        return os.devnull
    elif name == "missing":
        p = tmp / "missing.mp4"
    elif name == "empty":
        return ""
    elif name == "under-a-file":
        (tmp / "afile").write_text("x")
        p = tmp / "afile" / "out.x"
    elif name == "missing-folder":
        p = tmp / "no" / "such" / "folder" / "out.x"
    else:  # pragma: no cover
        raise ValueError(name)
    return str(p)


@pytest.fixture
def cli(capsysbinary, monkeypatch, tmp_path: Path):
    """``main(argv)`` in-process, as a :class:`Run`; run from ``tmp_path`` (for relative names)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def run(*args: str) -> Run:
        capsysbinary.readouterr()
        code = main(list(args))
        out = capsysbinary.readouterr()  # bytes: a name that is not UTF-8 is written as its bytes
        text = [b.decode("utf-8", "backslashreplace") for b in (out.out, out.err)]
        return Run(returncode=code, stdout=text[0], stderr=text[1], seconds=0.0)

    return run


def check(r: Run, what: str) -> None:
    errors = [line for line in r.err_lines if line.startswith("videopipe: error: ")]
    assert r.returncode in (0, 1, 2), (what, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (what, r.stderr)
    if r.returncode == 2:
        assert len(errors) == 1, (what, r.stderr)
    else:
        assert len(errors) <= 1 if r.returncode == 1 else not errors, (what, r.stderr)


def _args(template: tuple[str, ...], **values: str) -> list[str]:
    return [a.format(**values) for a in template]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_hostile_file_names(cli, tmp_path: Path, video: Path, command: str, name: str) -> None:
    p = hostile(name, tmp_path, video)
    check(cli(*_args(COMMANDS[command], p=p, tmp=tmp_path, video=video)), f"{command} {name}")


@pytest.mark.parametrize("name", OUTPUT_NAMES)
@pytest.mark.parametrize("command", list(OUTPUTS))
def test_unwritable_outputs(cli, tmp_path: Path, video: Path, command: str, name: str) -> None:
    p = hostile(name, tmp_path, video)
    check(cli(*_args(OUTPUTS[command], p=p, tmp=tmp_path, video=video)), f"{command} {name}")
    assert Path(os.devnull).is_char_device()  # never replaced by a file


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("option", list(OPTIONS))
def test_bad_option_values(cli, tmp_path: Path, video: Path, option: str, value: str) -> None:
    r = cli(*_args(OPTIONS[option], v=value, tmp=tmp_path, video=video))
    check(r, f"{option}={value!r}")
    if value in ("nan", "inf", ""):  # no option takes these
        assert r.returncode == 2, (option, value, r.stderr)


@pytest.mark.parametrize(
    "command",
    ["ask", "batch", "eval", "compare", "index", "search", "transcribe", "info", "frames", "list", "serve"],
)
def test_every_command_has_help(cli, command: str) -> None:
    r = cli(command, "--help")
    assert r.returncode == 0 and not r.err_lines, r.stderr


@pytest.mark.parametrize(
    ("kind", "key", "name"),
    [
        ("input", "ask", "non-utf8"),
        ("input", "index", "fifo"),
        ("input", "batch", "very-long"),
        ("output", "transcribe --srt", "directory"),
        ("output", "batch -o", "under-a-file"),
    ],
)
def test_a_sample_through_the_executable(
    videopipe, tmp_path: Path, video: Path, kind: str, key: str, name: str
) -> None:
    template = COMMANDS[key] if kind == "input" else OUTPUTS[key]
    p = hostile(name, tmp_path, video)
    check(videopipe(*_args(template, p=p, tmp=tmp_path, video=video)), f"{key} {name}")
