"""videopipe.testing.videos: what is generated is what decodes (the fixtures the decode tests trust)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.decode.helpers import SPECS, gen_video, reference_pts
from videopipe.testing.videos import draw_frame_number, read_frame_number, render_frames


@pytest.mark.parametrize("number", [0, 1, 150, 4095, 65535])
@pytest.mark.parametrize("hw", [(96, 160), (75, 121), (480, 640)])
def test_frame_number_round_trip_survives_resizing(number, hw):
    import torch
    import torch.nn.functional as F

    frame = np.full((*hw, 3), 90, np.uint8)
    draw_frame_number(frame, number)
    assert read_frame_number(frame) == number
    t = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    small = F.interpolate(t, size=(hw[0] // 2, hw[1] // 2), mode="bilinear", antialias=True)
    assert read_frame_number(small[0].permute(1, 2, 0).round().byte().numpy()) == number


@pytest.mark.parametrize("name", ["h264_bframes", "vfr_h264", "hevc"])
def test_generated_video_decodes_to_its_spec(name):
    """Every frame decodes in order with its number, at the presentation time the spec says."""
    import av

    spec = SPECS[name]
    path = str(gen_video(name))
    with av.open(path) as c:
        nums = [read_frame_number(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert nums == list(range(spec.num_frames))
    np.testing.assert_allclose(reference_pts(path), spec.frame_pts() - spec.frame_pts()[0], atol=1e-3)


def test_scene_cuts_are_where_the_spec_says():
    spec = SPECS["h264"]
    frames = list(render_frames(spec))
    # mean change below the code band: large at cuts, small elsewhere
    diffs = [np.abs(b[40:].astype(int) - a[40:].astype(int)).mean() for a, b in zip(frames, frames[1:])]
    big = [i + 1 for i, d in enumerate(diffs) if d > 20]
    assert big == spec.cut_frames
