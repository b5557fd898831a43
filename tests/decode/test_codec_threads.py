"""Codec threads per access pattern (PyAVReader._threads_for; measured in
benchmarks/results/codec_threads.md): slice threads for keyframe-only requests (libdav1d: one
thread), AUTO for runs of frames, one / two threads per worker; never frame threads where they
are unsafe. Switching patterns reopens the container and never changes a frame."""

from __future__ import annotations

import numpy as np
import pytest

from tests.decode.helpers import reference_frames
from videopipe.decode import open_video
from videopipe.decode.pyav_backend import PyAVReader
from videopipe.testing.videos import make_long_video, make_video, scenes_video

SPEC = scenes_video((80, 70, 90, 60), gop=25)  # 300 frames, keyframes every 25


def _setting(r) -> tuple[str, int]:
    s = r._stream
    return s.thread_type.name, s.codec_context.thread_count


def test_one_worker_uses_slice_threads_on_keyframes_and_auto_on_runs():
    path = make_video(SPEC)
    keys, runs = [0, 50, 125, 275], [10, 60, 61, 299]
    ref = reference_frames(str(path), keys + runs)
    with open_video(path, backend="pyav", workers=1) as r:
        assert r._frame_threads
        for idx, want_type in ((keys, "SLICE"), (runs, "AUTO"), (keys, "SLICE"), (runs, "AUTO")):
            got = r.frames_at(idx).array
            assert _setting(r)[0] == want_type and r._stream.codec_context.is_open
            for j, i in enumerate(idx):  # the frames do not depend on the threads
                assert np.array_equal(got[j], ref[i])
        # iter_frames is a run from the start
        next(iter(r.iter_frames(every=100)))
        assert _setting(r)[0] == "AUTO"


def test_threads_given_to_the_reader_set_the_count_for_both_patterns():
    with PyAVReader(make_video(SPEC), workers=1, threads=1) as r:
        r.frames_at([0, 50])
        assert _setting(r) == ("SLICE", 1)
        r.frames_at([10])
        assert _setting(r) == ("AUTO", 1)


def test_workers_use_one_thread_on_keyframes_and_two_on_runs():
    path = make_video(SPEC)
    with open_video(path, backend="pyav", workers=2) as r:
        r.frames_at(list(range(0, 300, 25)))  # 12 keyframes: split
        assert len(r._workers) == 2 and all(_setting(w) == ("SLICE", 1) for w in r._workers)
        r.frames_at([10, 40, 110, 140, 210, 240, 290])  # runs from their keyframes: split
        assert all(_setting(w) == ("AUTO", 2) for w in r._workers)


def test_no_frame_threads_where_they_are_unsafe():
    path = make_video(SPEC)
    with open_video(path, backend="pyav", workers=1) as r:
        r._frame_threads = False  # as for a damaged file (frames lost) or sequential access
        r.frames_at([10, 60])
        assert _setting(r)[0] == "SLICE"


@pytest.mark.parametrize("codec", ["av1"])
def test_libdav1d_decodes_keyframes_on_one_thread(codec, tmp_path):
    path = make_long_video(6, width=160, height=96, gop=25, repeat_of_s=2, codec=codec, cache_dir=tmp_path)
    with open_video(path, backend="pyav", workers=1) as r:
        if r._stream.codec_context.name != "libdav1d":
            pytest.skip("this PyAV decodes AV1 with another decoder")
        r.frames_at([0, 25, 100])
        assert _setting(r) == ("SLICE", 1)
        r.frames_at([30])
        assert _setting(r) == ("AUTO", 0)
