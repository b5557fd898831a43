"""Compressor specs with options: name[option=value,...] and chains (videopipe.compressors.spec)."""

from __future__ import annotations

import pytest

from videopipe.compressors import build
from videopipe.compressors.chain import Chain
from videopipe.compressors.spec import parse_spec, split_specs
from videopipe.errors import ConfigError, UnknownPluginError


def test_options_are_converted_to_the_declared_types() -> None:
    c = build("progressive[per_frame_budget=0, threshold=0.85, fill_budget=no, memory_frames=none]")
    assert c.config.per_frame_budget == 0 and isinstance(c.config.per_frame_budget, int)
    assert c.config.threshold == 0.85 and c.config.fill_budget is False and c.config.memory_frames is None
    assert build("progressive[memory_frames=12]").config.memory_frames == 12
    assert build("pool[frame_budget=uniqueness]").config.frame_budget == "uniqueness"
    # keyword options override the spec's
    assert build("progressive[per_frame_budget=0]", per_frame_budget=8).config.per_frame_budget == 8


def test_chains_take_options_per_stage() -> None:
    c = build("static_prune[fold_dropped=true] + segment_merge[min_segments=3]")
    assert isinstance(c, Chain)
    first, last = c.stages
    assert first.config.fold_dropped is True and last.config.min_segments == 3
    with pytest.raises(ConfigError, match="write them in the spec"):
        build("pool+divprune", sketch_dim=4)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("progressive[per_frame_budget=lots]", r"per_frame_budget='lots' must be an integer"),
        ("progressive[fill_budget=maybe]", r"fill_budget='maybe' must be true or false"),
        ("progressive[threshold=high]", r"threshold='high' must be a number"),
        ("progressive[colour=red]", r"unknown option 'colour'; valid options: .*per_frame_budget"),
        ("progressive[per_frame_budget]", r"write option=value"),
        ("progressive[threshold=0.5,threshold=0.6]", r"given twice"),
        ("progressive[threshold=2]", r"progressive.threshold"),  # the config's own range check
        ("pool+", r"bad compressor spec"),
        ("pool[stride=2", r"bad compressor spec"),
        ("", r"bad compressor spec"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(spec)


def test_unknown_names_list_the_registered_ones() -> None:
    with pytest.raises(UnknownPluginError, match="segment_merge"):
        build("segmant_merge[min_segments=2]")


def test_splitting_keeps_brackets_together() -> None:
    assert split_specs("a, b[x=1,y=2] ,c+d[z=3]") == ["a", "b[x=1,y=2]", "c+d[z=3]"]
    assert parse_spec("a[x=1,y=2]+b") == [("a", {"x": "1", "y": "2"}), ("b", {})]
