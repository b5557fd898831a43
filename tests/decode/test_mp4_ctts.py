"""Composition offsets from the MP4 ``ctts`` box put B-frame packet sizes in presentation
order without demuxing every packet."""

from __future__ import annotations

import numpy as np

from tests.decode.helpers import gen_video
from tests.decode.test_packet_sizes import demuxed_sizes
from videopipe.decode import packet_sizes as index_mod
from videopipe.decode.build_table import read_frame_table as load_index
from videopipe.decode.mp4 import composition_offsets
from videopipe.decode.packet_sizes import packet_sizes_for


def test_ctts_offsets_give_presentation_order_sizes_without_a_demux(monkeypatch):
    path = str(gen_video("h264_bframes"))
    idx = load_index(path, 0)
    assert idx.source == "container-index" and idx.sizes is None  # B-frames: decode order only

    def no_demux(*a, **k):
        raise AssertionError("demuxed every packet although ctts was available")

    monkeypatch.setattr(index_mod, "demux_packet_sizes", no_demux)
    np.testing.assert_array_equal(packet_sizes_for(path, 0, idx), demuxed_sizes(path))


def test_no_ctts_means_zero_offsets_and_non_mp4_gives_none(tmp_path):
    path = str(gen_video("h264"))  # no B-frames: x264 writes no ctts
    off = composition_offsets(path, 1, load_index(path, 0).num_frames)
    assert off is not None and not off.any()
    assert composition_offsets(str(gen_video("vp9_webm")), 1, 150) is None
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x08free" + b"\xff" * 64)
    assert composition_offsets(str(junk), 1, 10) is None


def test_wrong_offsets_fall_back_to_demux(monkeypatch):
    """Offsets that do not reproduce the table's presentation times are refused."""
    path = str(gen_video("h264_bframes"))
    idx = load_index(path, 0)
    monkeypatch.setattr(
        "videopipe.decode.mp4.composition_offsets", lambda p, t, n: np.arange(n, dtype=np.int64) * 7
    )
    calls = []
    real = index_mod.demux_packet_sizes
    monkeypatch.setattr(index_mod, "demux_packet_sizes", lambda *a: calls.append(1) or real(*a))
    np.testing.assert_array_equal(packet_sizes_for(path, 0, idx), demuxed_sizes(path))
    assert calls == [1]
