"""The evidence of an answer reads which clips each token unit stands for from the layout the
model wrote (``EncodedLayout.unit_clip_ids``), and ranks the same clips as the rule from frame
numbers that models without clip ids still get."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from videopipe.evidence import clip_units, evidence_of
from videopipe.model_records import ClipLayout, EncodedLayout, clips_of_units
from videopipe.types import Clip, Selection
from videopipe.visual_tokens import VisualTokens


def test_clips_of_units_pads_the_last_unit_and_keeps_straddling_clips() -> None:
    assert clips_of_units([0, 0, 0, 1, 1], 2, 3) == ((0,), (0, 1), (1,))
    assert clips_of_units([2, 3], 1, 2) == ((2,), (3,))
    assert clips_of_units(None, 2, 3) == ()


def _qwen_like() -> tuple[Selection, VisualTokens]:
    """Three clips of 3, 2 and 3 frames encoded as one video of 2-frame units: units start at
    frames 0, 20, 40, 60 and the unit at 20 holds frames 20 (clip 0) and 30 (clip 1)."""
    frames = [0, 10, 20, 30, 40, 50, 60, 70]
    clips = (
        Clip(0.0, 2.0, (0, 10, 20), (0.0, 1.0, 2.0)),
        Clip(3.0, 4.0, (30, 40), (3.0, 4.0)),
        Clip(5.0, 7.0, (50, 60, 70), (5.0, 6.0, 7.0)),
    )
    clip_of_frame = [0, 0, 0, 1, 1, 2, 2, 2]
    units = frames[::2]
    layout = EncodedLayout(
        family="test",
        model_id="test",
        unit_frame_idx=units,
        unit_time_s=[u / 10 for u in units],
        unit_grid_hw=[(2, 2)] * 4,
        frame_idx=frames,
        frame_time_s=[f / 10 for f in frames],
        clips=[ClipLayout(frame_size_px=(28, 28), num_tokens=16)],
        unit_clip_ids=clips_of_units(clip_of_frame, 2, 4),
    )
    feats = torch.randn(4, 2, 2, 8, generator=torch.Generator().manual_seed(0))
    tokens = VisualTokens.from_grid(feats, units, [u / 10 for u in units], layout=layout)
    return Selection(clips), tokens


def test_the_layout_says_which_clips_a_unit_stands_for() -> None:
    selection, tokens = _qwen_like()
    assert clip_units(selection, tokens) == {0: {0, 20}, 1: {20, 40}, 2: {40, 60}}
    bare = replace(tokens, layout=None)  # the rule from frame numbers gives the same units
    assert clip_units(selection, bare) == clip_units(selection, tokens)


@pytest.mark.parametrize("keep", [[0, 1, 2, 3], [4, 5, 6, 7], [8, 12], [1, 15]])
def test_evidence_from_the_layout_equals_the_frame_number_rule(keep: list[int]) -> None:
    selection, tokens = _qwen_like()
    kept = tokens.select(torch.tensor(keep))
    relevance = torch.linspace(0.1, 0.9, len(keep))
    for rel in (None, relevance):
        got = evidence_of("v.mp4", selection, kept, rel, tokens)
        want = evidence_of("v.mp4", selection, replace(kept, layout=None), rel, replace(tokens, layout=None))
        assert got == want and got  # the same clips, scores and order
