"""The frame table's record: its modes are enums whose values are the strings stored before,
and its on-disk format (table_cache) reads back what it wrote."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from videopipe.decode import table_cache
from videopipe.decode.frame_table import Access, FrameIndex, TableSource


def _table(**kw) -> FrameIndex:
    pts = np.arange(0, 50, 10, dtype=np.int64)
    base = dict(
        pts=pts,
        time_base=Fraction(1, 100),
        key_pts=pts[:1],
        key_seek=pts[:1],
        last_duration=10,
        frames_lost=0,
        source="decode",
    )
    return FrameIndex(**{**base, **kw})


def test_modes_given_as_strings_become_enums_equal_to_those_strings() -> None:
    t = _table(access="remapped", decoder_pts=np.arange(5, dtype=np.int64))
    assert t.source is TableSource.DECODE and t.access is Access.REMAPPED
    assert t.access == "remapped" and str(t.access) == "remapped" and f"{t.source}" == "decode"
    with pytest.raises(ValueError):
        _table(access="sometimes")


def test_a_decoded_table_reads_back_from_disk(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("VIDEOPIPE_CACHE", str(tmp_path / "cache"))
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not decoded here")
    t = _table(access=Access.SEQUENTIAL, access_reason="timestamps lie", frames_lost=2)
    table_cache.save_frame_table(str(video), 0, t)
    back = table_cache.load_frame_table(str(video), 0)
    assert back is not None and back.access is Access.SEQUENTIAL and back.source is TableSource.DECODE
    assert back.access_reason == "timestamps lie" and back.frames_lost == 2 and back.decoder_pts is None
    np.testing.assert_array_equal(back.pts, t.pts)
    assert table_cache.load_frame_table(str(video), 1) is None  # another stream: a miss
