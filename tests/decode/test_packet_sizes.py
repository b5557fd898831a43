"""Packet sizes in the frame table: every backend returns each frame's compressed packet size
in presentation order (B-frames included), the same as demuxing every packet."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.conftest import media_file
from tests.decode.helpers import REAL_CLIPS, SPECS, gen_video, open_checked
from videopipe.decode.build_table import build_frame_table as build_index
from videopipe.decode.container import open_container

BACKENDS = ["pyav", "torchcodec", "decord"]


def demuxed_sizes(path) -> np.ndarray:
    """(pts-sorted) packet sizes from a plain PyAV demux: the reference."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rows = sorted((int(p.pts), int(p.size)) for p in c.demux(s) if p.size and p.pts is not None)
    return np.asarray([size for _, size in rows], np.int64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name", ["h264", "h264_bframes", "hevc", "vp9_webm", "mpeg4_avi", "vfr_h264", "audio_first"]
)
def test_packet_sizes_match_demuxed_packets_in_presentation_order(name, backend):
    path = gen_video(name)
    r = open_checked(name, path, backend)
    if r is None:
        return
    with r:
        got = r.packet_sizes()
        assert got is not None and got.dtype == np.int64
        np.testing.assert_array_equal(got, demuxed_sizes(path))
        assert len(got) == r.info.num_frames


def test_b_frame_sizes_are_not_in_decode_order():
    """With B-frames decode order differs from presentation order: the sizes must follow pts
    (a decode-order copy would put each large P-frame before the B-frames it precedes)."""
    path = gen_video("h264_bframes")
    with av.open(str(path)) as c:
        decode_order = [int(p.size) for p in c.demux(c.streams.video[0]) if p.size]
    pres = demuxed_sizes(path)
    assert not np.array_equal(np.asarray(decode_order), pres)
    with open_checked("h264_bframes", path, "pyav") as r:
        np.testing.assert_array_equal(r.packet_sizes(), pres)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_container_index_sizes_equal_demux_sizes(name):
    """The cheap table carries sizes where it can map them to frames (no reordering) and
    agrees with the demuxed table; where it cannot (B-frames) it says None, never guesses."""
    path = str(gen_video(name))
    with open_container(path) as c:
        fast = build_index(c, c.streams.video[0], path)
        slow = build_index(c, c.streams.video[0], path, prefer_container_index=False)
    assert slow.sizes is not None
    np.testing.assert_array_equal(slow.sizes, demuxed_sizes(path))
    if fast.sizes is not None:
        np.testing.assert_array_equal(fast.sizes, slow.sizes)
    if name == "h264" and fast.source == "container-index":
        assert fast.sizes is not None  # no B-frames: sizes come free with the index


@pytest.mark.parametrize("clip", REAL_CLIPS)
def test_packet_sizes_of_real_clips(clip):
    """bikes.mp4 and bigbuckbunny.mp4 have B-frames (sizes mapped through ctts), vtest.avi is
    an AVI (sizes from its idx1 index / packets)."""
    path = media_file(clip)
    with open_checked(clip, path, "pyav") as r:
        np.testing.assert_array_equal(r.packet_sizes(), demuxed_sizes(path))


def test_span_view_passes_the_real_frames_sizes():
    """A view over retrieved spans (virtual video) reports its frames' real packet sizes."""
    from videopipe.decode import open_video
    from videopipe.protocols import VideoReader
    from videopipe.spans import SpanView

    with open_video(gen_video("h264_bframes")) as r:
        view = SpanView(r, [(0.4, 1.0), (3.0, 4.0)])
        assert isinstance(view, VideoReader)
        real = r.packet_sizes()
        np.testing.assert_array_equal(view.packet_sizes(), real[view._map])
        assert len(view.packet_sizes()) == view.info.num_frames
