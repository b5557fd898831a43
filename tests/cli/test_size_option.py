"""``--size`` is checked against the model's token size and MAX_SIZE_PX before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from videopipe.config import MAX_SIZE_PX, PipelineConfig, check_size_px
from videopipe.errors import ConfigError
from videopipe.types import Budget


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["frames", "{video}", "--size", "16"], ["--size", "16", "28 px", f"{MAX_SIZE_PX} px"]),
        (["frames", "{video}", "--size", "20000"], ["--size", "20000", f"{MAX_SIZE_PX} px"]),
        (["frames", "{video}", "--size", "-5"], ["--size", "-5"]),
        (["ask", "{video}", "what?", "--model", "fake", "--size", "16"], ["16", "fake-color-llm", "28 px"]),
        (["ask", "{video}", "what?", "--model", "fake", "--size", "20000"], ["20000", f"{MAX_SIZE_PX} px"]),
        (["batch", "{video}", "-q", "what?", "--out", "{out}", "--size", "20000"], ["20000"]),
    ],
)
def test_bad_size_exits_2_naming_option_value_and_range(
    videopipe, video: Path, tmp_path: Path, args: list[str], needles: list[str]
) -> None:
    r = videopipe(*[a.format(video=video, out=tmp_path / "r.jsonl") for a in args])
    assert r.returncode == 2, r.stderr
    assert len(r.err_lines) == 1 and "internal error" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.err_lines[0], r.err_lines[0]
    assert not (tmp_path / "r.jsonl").exists()  # batch stopped before it started


def test_size_at_the_bounds_is_accepted(videopipe, video: Path) -> None:
    r = videopipe("frames", str(video), "-n", "2", "--size", "28", "--json")
    assert r.returncode == 0, r.stderr
    assert check_size_px(28, token_px=28) == 28 and check_size_px(MAX_SIZE_PX, token_px=28) == MAX_SIZE_PX
    with pytest.raises(ConfigError, match="from 14 px"):
        check_size_px(13, token_px=14, model="m")


def test_library_types_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"size_px \(--size\) 16 .*28 px"):
        Budget(size_px=16)
    with pytest.raises(ConfigError, match=f"to {MAX_SIZE_PX} px"):
        PipelineConfig(size_px=MAX_SIZE_PX + 1)
    with pytest.raises(ConfigError, match="size_px must be an integer"):  # the field type check
        PipelineConfig(size_px="448")  # e.g. from a TOML file


def test_pipeline_names_the_models_token_size() -> None:
    from videopipe.pipeline import Pipeline

    with pytest.raises(ConfigError, match=r"16 .*28 px \(one visual token of 'videopipe/fake-color-llm'\)"):
        Pipeline(config=PipelineConfig(model="fake", size_px=16), load_model=False)
