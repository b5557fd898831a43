"""PyAV reader with several workers: the frames, order and counters of the serial reader."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from tests.decode.helpers import reference_frames
from tests.decode.test_zoo import _zoo_file, sequential_only  # noqa: F401 (sequential_only: a fixture)
from videopipe.decode import open_video
from videopipe.decode.pyav_backend import PyAVReader, split_shares
from videopipe.errors import ConfigError
from videopipe.testing.videos import make_video, read_frame_number, scenes_video
from videopipe.testing.zoo import ffmpeg_frames

# 300 frames, GOP 25: 12 groups of pictures, enough for a request to be split
SPECS = {
    "h264": scenes_video((80, 70, 90, 60), gop=25),
    "h264_bframes": scenes_video((80, 70, 90, 60), gop=25, bframes=3),
    "vfr_h264": scenes_video((80, 70, 90, 60), gop=25, vfr=True, bframes=2),
    "hevc": scenes_video((80, 70, 90, 60), gop=25, codec="libx265", bframes=3),
}
IDX = [299, 3, 77, 3, 120, 51, 0, 100, 99, 250, 26, 180, 181, 182, 275]


def _read(path, workers, idx=IDX, size=None):
    with open_video(path, backend="pyav", workers=workers) as r:
        fr = r.frames_at(idx, size=size)
        return fr, r.frames_decoded, r.seeks, len(r._workers)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_parallel_equals_serial_equals_sequential_decode(name):
    path = make_video(SPECS[name])
    serial, n1, s1, w1 = _read(path, 1)
    par, n2, s2, w2 = _read(path, 2)
    assert w1 == 0 and w2 == 2  # the request was split
    np.testing.assert_array_equal(par.data.numpy(), serial.data.numpy())
    assert [read_frame_number(a) for a in par.data.numpy()] == IDX  # order and repeats kept
    assert par.indices.tolist() == IDX
    np.testing.assert_array_equal(par.pts_s.numpy(), serial.pts_s.numpy())
    ref = reference_frames(str(path), IDX)
    for a, i in zip(par.data.numpy(), IDX):
        np.testing.assert_array_equal(a, ref[i])
    # the totals of the workers: the same frames decoded and seeks made as one worker
    assert (n2, s2) == (n1, s1)


def test_workers_1_2_and_3_give_the_same_resized_frames():
    path = make_video(SPECS["h264_bframes"])
    got = [_read(path, w, size=40)[0].data.numpy() for w in (1, 2, 3)]
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], got[2])


def test_workers_are_reused_counted_and_closed():
    path = make_video(SPECS["h264"])
    r = open_video(path, backend="pyav", workers=2)
    with r:
        r.frames_at(IDX)
        first = r._workers[:]
        before = r.frames_decoded
        r.frames_at([10, 200])
        assert r._workers == first  # the containers are opened once
        assert r.frames_decoded > before
        assert all(w.frames_decoded == 0 and w.seeks == 0 for w in first)  # summed into the reader
        r.frames_at([5])  # too small a request to split: decoded serially, same counters
    assert r._workers == [] and all(w._closed for w in first)


def test_keyframe_only_requests_go_parallel_and_decode_one_frame_each():
    path = make_video(SPECS["h264_bframes"])
    with open_video(path, backend="pyav", workers=2) as r:
        keys = r.indices_at_times(r.keyframe_times()).tolist()
        fr = r.frames_at(keys[::-1])
        assert len(r._workers) == 2
        assert r.frames_decoded == len(keys)
        assert [read_frame_number(a) for a in fr.data.numpy()] == keys[::-1]


def test_small_requests_stay_serial():
    path = make_video(SPECS["h264"])
    _, _, _, used = _read(path, 2, idx=[0, 1, 2])
    assert used == 0


def test_shares_are_contiguous_balanced_and_cut_between_groups():
    path = make_video(SPECS["h264"])
    with open_video(path, backend="pyav") as r:
        ix = r._index
    idx = np.asarray(sorted(set(IDX)))
    shares = split_shares(ix, idx, 2)
    assert [s.start for s in shares][0] == 0 and shares[-1].stop == idx.shape[0]
    assert all(a.stop == b.start for a, b in zip(shares, shares[1:]))
    for a, b in zip(shares, shares[1:]):  # never two shares in one group of pictures
        assert ix.keyframe_for(int(ix.pts[idx[a.stop - 1]])) != ix.keyframe_for(int(ix.pts[idx[b.start]]))
    one_group = np.arange(26, 40)
    assert split_shares(ix, one_group, 4) == [slice(0, 14)]
    every_group = np.arange(0, 300, 25)  # 12 keyframes, equal cost: 6 + 6
    assert split_shares(ix, every_group, 2) == [slice(0, 6), slice(6, 12)]


def _zoo(name):
    return _zoo_file(name)[1]


def _open_quietly(path):
    """Two workers; the warnings of files that lie are tested in test_zoo."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_video(path, backend="pyav", workers=2)


def _assert_is_ffmpegs(path, got, idx):
    """``got`` are frames ``idx`` of a sequential ffmpeg decode (within decoder rounding)."""
    ref = ffmpeg_frames(path, 0, got.shape[2], got.shape[1])[idx]
    assert np.abs(got.astype(np.int16) - ref.astype(np.int16)).mean(axis=(1, 2, 3)).max() <= 3.0


def test_pts_eq_dts_file_read_in_parallel_is_exact():
    path = _zoo("h264_pts_eq_dts")
    with _open_quietly(path) as r:
        assert r.info.access == "remapped"
        idx = [70, 5, 1, 60, 30, 31, 50]
        got = r.frames_at(idx).data.numpy()
        assert len(r._workers) == 2
    _assert_is_ffmpegs(path, got, idx)


def test_a_lie_caught_by_a_worker_falls_back_and_stays_exact(monkeypatch):
    """A packed MPEG-4 AVI whose lie the open-time check misses: a worker's pts check raises
    the mismatch, the reader moves to a better table and the request is decoded again."""
    import videopipe.decode.build_table as index_mod

    path = _zoo("mpeg4_avi_packed")
    monkeypatch.setattr(index_mod, "_may_hide_reordering", lambda stream: False)
    monkeypatch.setattr("videopipe.decode.table_cache.load_table", lambda *a: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = open_video(path, backend="pyav", workers=2)
        with r:
            assert r.info.access == "random"
            idx = [70, 3, 40, 12, 60, 25, 50, 0]
            got = r.frames_at(idx).data.numpy()
            assert r.info.access in ("remapped", "sequential")
    _assert_is_ffmpegs(path, got, idx)


@pytest.mark.usefixtures("sequential_only")
def test_sequential_access_file_uses_one_worker():
    path = _zoo("h264_pts_eq_dts")
    with _open_quietly(path) as r:
        assert r.info.access == "sequential"
        idx = [70, 5, 1, 60, 30]
        got = r.frames_at(idx).data.numpy()
        assert r._workers == []
    _assert_is_ffmpegs(path, got, idx)


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_bad_workers_value_is_a_clear_config_error(bad):
    path = make_video(SPECS["h264"])
    with pytest.raises(ConfigError, match="workers"):
        open_video(path, backend="pyav", workers=bad)
    with pytest.raises(ConfigError, match="positive integer"):
        PyAVReader(path, workers=bad)


def test_workers_with_another_backend_is_an_error_and_auto_means_every_core():
    import os

    path = make_video(SPECS["h264"])
    with pytest.raises(ConfigError, match="pyav"):
        open_video(path, backend="torchcodec", workers=2)
    with open_video(path, backend="pyav") as r:
        assert r.workers == len(os.sched_getaffinity(0))
    with open_video(path, backend="pyav", workers=0) as r:
        assert r.workers == len(os.sched_getaffinity(0))
    with open_video(path, backend="auto", workers=3) as r:
        assert r.info.backend == "pyav" and r.workers == 3


def test_a_batch_worker_caps_what_auto_means() -> None:
    from videopipe.decode import pyav_backend as pb

    cores = pb.usable_cores()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEOPIPE_DECODE_CORES", "1")  # one of several processes sharing the machine
        assert pb.usable_cores() == 1 and pb.check_workers(None) == 1 and pb.check_workers(0) == 1
        assert pb.check_workers(3) == 3  # an explicit number is kept
    assert pb.usable_cores() == cores


def test_set_decode_cores_caps_readers_made_afterwards(monkeypatch) -> None:
    from videopipe.decode.workers import DECODE_CORES_ENV, check_workers, set_decode_cores

    monkeypatch.delenv(DECODE_CORES_ENV, raising=False)
    set_decode_cores(1)
    assert check_workers(None) == 1 and check_workers(4) == 4
    set_decode_cores(None)
    assert DECODE_CORES_ENV not in os.environ


def test_a_bad_decode_cores_setting_is_named(monkeypatch) -> None:
    from videopipe.decode.workers import usable_cores

    monkeypatch.setenv("VIDEOPIPE_DECODE_CORES", "two")
    with pytest.raises(ConfigError, match="VIDEOPIPE_DECODE_CORES='two' is not valid"):
        usable_cores()
