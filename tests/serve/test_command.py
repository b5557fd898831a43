"""``videopipe serve`` refuses what it cannot serve before it listens: one line on stderr,
exit code 2 (the CLI's usage errors are in tests/cli)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_usage_errors import _one_line_error


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
