"""The reader API beyond exactness: info, keyframes, iter_frames, sizes, rotation, the frame
table sources, auto selection, the registry."""

from __future__ import annotations

import numpy as np
import pytest

from tests.decode.helpers import SPECS, gen_video, open_checked, unrotate
from videopipe.decode import open_video
from videopipe.decode.build_table import build_frame_table as build_index
from videopipe.decode.container import open_container
from videopipe.decode.reader import ITER_CHUNK_FRAMES, output_size
from videopipe.protocols import VideoReader
from videopipe.registry import DECODERS
from videopipe.testing.videos import read_frame_number

BACKENDS = ["pyav", "torchcodec", "decord"]


def test_every_backend_is_registered_and_implements_the_protocol():
    assert {"pyav", "torchcodec", "decord"} <= set(DECODERS.names())
    for name in BACKENDS:
        with DECODERS.create(name, path=gen_video("h264")) as r:
            assert isinstance(r, VideoReader)
            assert r.info.backend == name


def test_auto_on_cpu_records_the_backend_that_ran():
    with open_video(gen_video("h264"), backend="auto", device="cpu") as r:
        assert r.info.backend in BACKENDS
        from videopipe.decode.select import choose_backend

        assert r.info.backend == choose_backend("cpu")


def test_info_of_audio_first_file_describes_the_video_stream():
    with open_video(gen_video("audio_first")) as r:
        i = r.info
    assert (i.width, i.height, i.num_frames, i.codec) == (160, 96, 150, "h264")
    assert i.has_audio
    assert i.fps == pytest.approx(25.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rotation_is_applied_and_sizes_are_upright(backend):
    r = open_checked("rot90", gen_video("rot90"), backend)
    if r is None:
        return
    with r:
        assert r.info.rotation == 90
        assert (r.info.width, r.info.height) == (96, 160)
        fr = r.frames_at([5], size=48)
        assert fr.data.shape == (1, 80, 48, 3)  # shorter side (width) = 48
        # upright = the coded frame turned 90 degrees counter-clockwise (as ffmpeg displays it)
        assert read_frame_number(np.rot90(fr.data[0].numpy(), -1)) == 5
        assert r.frames_at([5], size=(64, 32)).data.shape == (1, 64, 32, 3)


def test_output_size():
    assert output_size(720, 1280, 448) == (448, 796)
    assert output_size(1280, 720, 448) == (796, 448)
    assert output_size(720, 1280, (100, 50)) == (100, 50)
    assert output_size(720, 1280, None) == (720, 1280)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_at_keeps_order_and_repeats(backend):
    with open_video(gen_video("h264_bframes"), backend=backend) as r:
        fr = r.frames_at([120, 3, 120, 60], size=32)
        assert fr.indices.tolist() == [120, 3, 120, 60]
        assert [read_frame_number(a) for a in fr.data.numpy()] == [120, 3, 120, 60]
        assert len(r.frames_at([])) == 0


@pytest.mark.parametrize("backend", ["pyav", "torchcodec"])
def test_iter_frames_streams_every_nth_frame_in_chunks(backend):
    with open_video(gen_video("vfr_h264"), backend=backend) as r:
        chunks = list(r.iter_frames(every=7, size=24))
        pts_all = r.pts_s
    assert all(len(c) <= ITER_CHUNK_FRAMES for c in chunks)
    idx = np.concatenate([c.indices.numpy() for c in chunks])
    assert idx.tolist() == list(range(0, 150, 7))
    nums = [read_frame_number(a) for c in chunks for a in c.data.numpy()]
    assert nums == idx.tolist()
    np.testing.assert_allclose(np.concatenate([c.pts_s.numpy() for c in chunks]), pts_all[idx])


def test_keyframe_times_come_from_the_index_and_match_decoded_keyframes():
    import av

    path = gen_video("h264_bframes")  # GOP 50 at 25 fps: keyframes at 0, 2, 4 s
    with open_video(path, backend="pyav") as r:
        kt = r.keyframe_times()
        src = r._index.source
    assert src == "container-index"
    assert kt == pytest.approx([0.0, 2.0, 4.0])
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        decoded = [float(f.pts * s.time_base) for f in c.decode(s) if f.key_frame]
    assert kt == pytest.approx(decoded)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_container_index_and_demux_agree(name):
    """The cheap table (container index) equals the table from demuxing every packet."""
    path = str(gen_video(name))
    with open_container(path) as c:
        fast = build_index(c, c.streams.video[0], path)
        slow = build_index(c, c.streams.video[0], path, prefer_container_index=False)
    np.testing.assert_array_equal(fast.pts, slow.pts)
    np.testing.assert_array_equal(fast.key_pts, slow.key_pts)
    assert slow.source == "demux"


def test_resize_happens_in_the_decoder_not_after():
    """PyAV converts + scales in one swscale call: the full-size RGB frame never exists."""
    import av

    calls = []
    orig = av.VideoFrame.to_ndarray

    def spy(self, *a, **k):
        calls.append((self.width, self.height))
        return orig(self, *a, **k)

    av.VideoFrame.to_ndarray = spy
    try:
        with open_video(gen_video("h264"), backend="pyav") as r:
            r.frames_at([10, 100], size=24)
    finally:
        av.VideoFrame.to_ndarray = orig
    assert calls and all(wh == (40, 24) for wh in calls)


@pytest.mark.parametrize("name", ["h264_bframes", "hevc", "vfr_h264", "vp9_webm", "mpeg4_avi"])
def test_pyav_decodes_only_from_the_preceding_keyframe(name):
    """Each target costs at most the frames from its own keyframe; targets in one GOP share
    one pass (no seek lands a keyframe early)."""
    with open_video(gen_video(name), backend="pyav") as r:
        keys = np.asarray(r.keyframe_times())
        pts = r.pts_s
        targets = [0, 30, 49, 50, 53, 99, 149]
        r.frames_at(targets, size=16)
        # frames from each target's keyframe to the target, counting shared GOPs once
        needed = set()
        for i in targets:
            k = np.searchsorted(pts, keys[np.searchsorted(keys, pts[i], side="right") - 1])
            needed.update(range(int(k), i + 1))
        reorder_slack = 4 * r.seeks  # frames a decoder may emit past the target before we stop
        assert len(needed) <= r.frames_decoded <= len(needed) + reorder_slack


@pytest.mark.parametrize(
    "name", ["h264", "h264_bframes", "hevc", "vp9_webm", "mpeg4_avi", "msmpeg4_avi", "vfr_mkv", "rot90"]
)
def test_keyframe_fast_path_decodes_only_the_keyframes(name, monkeypatch):
    from tests.decode.helpers import reference_frames
    from videopipe.decode.pyav_backend import PyAVReader

    def general_path(*args, **kwargs):
        raise AssertionError("keyframes went through the general decode path")

    path = gen_video(name)
    with open_video(path, backend="pyav") as r:
        kt = r.keyframe_times()
        with monkeypatch.context() as m:
            if r._stream.codec_context.has_b_frames:  # every keyframe: its packet alone, then a drain
                m.setattr(PyAVReader, "_decode_targets", general_path)
            fr = r.frames_at_times(kt[::-1])
        assert r.frames_decoded == len(kt)  # one decoded frame per keyframe
        idx = fr.indices.tolist()
        ref = reference_frames(path, idx)
        for j, i in enumerate(idx):
            np.testing.assert_array_equal(unrotate(fr.array[j], r.info.rotation), ref[i])
        # a normal request afterwards decodes non-key frames again
        later = r.frames_at([idx[-1] + 3]).array[0]
        assert read_frame_number(unrotate(later, r.info.rotation)) == idx[-1] + 3


def test_auto_skips_backends_that_refuse_the_file(monkeypatch):
    """On a GPU, auto prefers torchcodec, but not for a file torchcodec refuses; and when no GPU
    backend takes the file, device='auto' decodes it on the CPU (recorded in info.backend)."""
    from videopipe.decode import select
    from videopipe.decode.decord_backend import DecordReader
    from videopipe.decode.probe import probe
    from videopipe.decode.torchcodec_backend import TorchCodecReader

    monkeypatch.setattr(TorchCodecReader, "gpu_available", staticmethod(lambda: True))
    monkeypatch.setattr(DecordReader, "gpu_available", staticmethod(lambda: True))
    assert select.choose_backend("cuda", probe(gen_video("h264"))) == "torchcodec"
    assert select.choose_backend("cuda", probe(gen_video("rot90"))) == "torchcodec"
    with pytest.raises(select.DeviceError):
        select.choose_backend("cuda", probe(gen_video("mpeg4_avi")))  # both refuse it
    monkeypatch.setattr(select, "resolve_device", lambda d: "cuda" if d == "auto" else d)
    with open_video(gen_video("mpeg4_avi"), backend="auto", device="auto") as r:
        assert r.info.backend == "pyav"
    # an explicit CPU-only backend with device="auto" on a GPU machine runs on the CPU
    monkeypatch.setattr(DecordReader, "gpu_available", staticmethod(lambda: False))
    for name in ("pyav", "decord"):
        with open_video(gen_video("h264"), backend=name, device="auto") as r:
            assert r.info.backend == name and r._device == "cpu"
    from videopipe.errors import UnsupportedVideoError

    with pytest.raises(UnsupportedVideoError):
        open_video(gen_video("mpeg4_avi"), backend="torchcodec", device="cpu")


@pytest.mark.parametrize("backend", ["pyav", "torchcodec"])
def test_one_reader_shared_by_8_threads_returns_the_frames_each_asks_for(backend):
    """Calls from several threads take turns (one lock around decoding): no crash (it used to
    abort the process in decode_tolerant), and every thread gets its own frames."""
    from concurrent.futures import ThreadPoolExecutor

    r = open_checked("h264_bframes", gen_video("h264_bframes"), backend)
    if r is None:
        return
    with r:
        n = r.info.num_frames
        asks = [[(7 * t + 13 * k) % n for k in range(6)] for t in range(8)]

        def work(ask: list[int]) -> list[int]:
            got = []
            for _ in range(3):
                fr = r.frames_at(ask, size=32)
                got = [read_frame_number(f) for f in fr.data.numpy()]
                chunks = list(r.iter_frames(every=50, size=24))
                assert sum(c.indices.shape[0] for c in chunks) == len(range(0, n, 50))
            return got

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(work, asks))
    assert results == asks


def test_a_size_beyond_the_cli_limit_is_refused_before_anything_is_allocated():
    from videopipe.config import MAX_SIZE_PX
    from videopipe.errors import ConfigError

    with open_video(gen_video("h264"), backend="pyav") as r:
        with pytest.raises(ConfigError, match=f"1 to {MAX_SIZE_PX} px"):
            r.frames_at([0], size=10**6)
        with pytest.raises(ConfigError, match="too large"):
            r.frames_at([0], size=(10**6, 10))
        with pytest.raises(ConfigError, match=f"1 to {MAX_SIZE_PX} px"):
            next(r.iter_frames(size=MAX_SIZE_PX + 1))
        assert r.frames_at([0], size=(20, 4 * MAX_SIZE_PX // 100)).data.shape[1] == 20
