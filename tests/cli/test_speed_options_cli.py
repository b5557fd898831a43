"""``--quantize`` and ``--vision-merge`` as users type them: bad values and a family without a
SigLIP tower are refused with one line naming the option and the value."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videopipe.testing.tiny_models import build_tiny_model

    return build_tiny_model("qwen2_5_vl", tmp_path_factory.mktemp("tiny") / "qwen")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--model", "fake", "--quantize", "int4"], ["quantize", "'int4'", "none, int8"]),
        (["--model", "fake", "--vision-merge", "-1"], ["--vision-merge", "-1"]),
        (["--model", "fake", "--vision-merge", "x"], ["--vision-merge", "integer"]),
        (["--model", "{qwen}", "--vision-merge", "2"], ["--vision-merge 2", "qwen2_5_vl", "smolvlm"]),
        (["--model", "fake", "--quantize", "int8"], ["--quantize", "'fake'", "transformers checkpoints"]),
    ],
)
def test_bad_speed_options_fail_with_one_line(
    videopipe, video: Path, tiny_qwen: Path, args: list[str], needles: list[str]
) -> None:
    r = videopipe("ask", str(video), "what?", *[a.format(qwen=tiny_qwen) for a in args])
    assert r.returncode in (1, 2), r.stderr
    assert len(r.err_lines) == 1 and "internal error" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.err_lines[0], r.err_lines[0]


def test_help_lists_the_speed_options(videopipe) -> None:
    r = videopipe("ask", "--help")
    assert r.returncode == 0 and "--quantize" in r.stdout and "--vision-merge" in r.stdout
