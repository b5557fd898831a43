"""videopipe.testing.videos: what is generated is what decodes (the fixtures the decode tests trust)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.decode.helpers import SPECS, gen_video, reference_frames, reference_pts
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


@pytest.mark.parametrize("codec", ["hevc", "vp9", "av1"])
def test_long_videos_of_other_codecs_seek_exactly(codec, tmp_path):
    """``make_long_video(codec=...)`` (the per-codec benchmark files): the codec asked for, one
    keyframe per GOP, repeated pieces with continuing timestamps, and the reader's frames --
    one worker and two -- equal to a sequential decode's."""
    from videopipe.decode import open_video
    from videopipe.testing.videos import make_long_video

    path = make_long_video(6, width=160, height=96, gop=25, repeat_of_s=2, codec=codec, cache_dir=tmp_path)
    assert f"-{codec}-rep2" in path.name
    want = [0, 24, 25, 37, 99, 149]
    ref = reference_frames(str(path), want)
    for workers in (1, 2):
        with open_video(path, backend="pyav", workers=workers) as r:
            assert r.info.codec == codec and r.info.num_frames == 150
            assert np.allclose(np.diff(r.keyframe_times()), 1.0)  # GOP 25 at 25 fps
            frames = r.frames_at(want)
            for j, i in enumerate(want):
                assert np.array_equal(frames.array[j], ref[i]), (codec, workers, i)
    with pytest.raises(ValueError, match="unknown codec"):
        make_long_video(6, codec="theora", cache_dir=tmp_path)
