"""Config values of the wrong type or out of range: one ConfigError naming the file and key,
checked from PipelineConfig's own field types (issue 23, item 10)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError
from videopipe.validate import field_types


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("device = 5", "device must be a string, got 5"),
        ("num_frames = 1.5", "num_frames must be an integer, got 1.5"),
        ("num_frames = inf", "num_frames must be an integer, got inf"),
        ("num_frames = nan", "num_frames must be an integer"),
        ('cache_tokens = "no"', "cache_tokens must be true or false, got 'no'"),
        ("max_visual_tokens = true", "max_visual_tokens must be an integer (or unset)"),
        ("num_frames = -1", "num_frames must be >= 1"),
        ('text = ["subtitles"]', "text must be a string"),
        ("pipeline = 3", "pipeline must be a table"),
    ],
)
def test_wrong_type_in_toml_names_file_and_key(tmp_path: Path, line: str, needle: str) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text(line + "\n")
    with pytest.raises(ConfigError) as e:
        PipelineConfig.load(toml)
    assert str(toml) in str(e.value) and needle in str(e.value), str(e.value)


def test_every_field_is_type_checked() -> None:
    """A value of another type for each field is refused: the check follows the dataclass."""
    hints = typing.get_type_hints(PipelineConfig)
    for f in dataclasses.fields(PipelineConfig):
        wrong: object = 1.5 if hints[f.name] in (str, bool, str | None) else "x"
        with pytest.raises(ConfigError, match=f.name):
            PipelineConfig(**{f.name: wrong})


def test_field_types_accepts_the_defaults_and_ints_for_floats() -> None:
    field_types(PipelineConfig())

    @dataclasses.dataclass
    class C:
        x: float = 1
        y: float | None = None

    field_types(C())
    with pytest.raises(ConfigError, match="x must be a finite number"):
        field_types(C(x=float("nan")))
