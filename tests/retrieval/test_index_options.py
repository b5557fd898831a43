"""IndexOptions.resolve: values given > the existing index's > the defaults, in one place."""

from __future__ import annotations

import pytest

from videopipe.errors import ConfigError, InputError
from videopipe.retrieval.indexer import IndexOptions
from videopipe.retrieval.store import IndexConfig


def _existing(**kw: object) -> IndexConfig:
    cfg = IndexOptions(embedder="color", window_s=7.0, overlap_s=1.0, frames_per_clip=2).resolve(None).config
    return IndexConfig.from_dict({**cfg.__dict__, **kw})


def test_a_new_index_takes_the_defaults() -> None:
    r = IndexOptions(embedder="color").resolve(None)
    c = r.config
    assert (c.embedder, c.segmentation, c.window_s, c.overlap_s, c.frames_per_clip) == (
        "color",
        "fixed:w20:o5",
        20.0,
        5.0,
        4,
    )
    assert r.frames_per_clip == 4 and r.captioner is None and c.captioner == ""
    scenes = IndexOptions(embedder="color", segmentation="scenes").resolve(None).config
    assert (scenes.window_s, scenes.overlap_s) == (60.0, 0.0)


def test_unset_values_are_the_existing_indexs() -> None:
    old = _existing()
    assert IndexOptions().resolve(old).config == old
    changed = IndexOptions(window_s=3.0).resolve(old).config
    assert (changed.window_s, changed.overlap_s, changed.frames_per_clip) == (3.0, 1.0, 2)


def test_another_segmentation_kind_does_not_inherit_the_window() -> None:
    c = IndexOptions(segmentation="scenes").resolve(_existing()).config
    assert c.segmentation.startswith("scenes:") and c.window_s == 60.0 and c.frames_per_clip == 2


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="segmentation 'bogus' is not one of fixed, scenes"):
        IndexOptions(embedder="color", segmentation="bogus").resolve(None)
    with pytest.raises(InputError, match="frames_per_clip must be >= 1, got 0"):
        IndexOptions(embedder="color", frames_per_clip=0).resolve(None)
