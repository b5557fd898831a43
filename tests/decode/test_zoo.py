"""The video zoo: every kind of file in :mod:`videopipe.testing.zoo`, every installed backend.

For each file and each backend that accepts it, ``frames_at`` on the first, the last and
random frames (in any order, full size and resized) returns frame ``i`` of a sequential ffmpeg
decode, and ``info`` has ffprobe's decoded frame count and duration. A backend may refuse a
file (a clear UnsupportedVideoError naming the file and a backend that reads it), never return
a wrong frame; ``auto`` reads every file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from videopipe.decode import open_video
from videopipe.decode.probe import probe
from videopipe.errors import OutOfRangeError, UnsupportedVideoError
from videopipe.testing.videos import read_frame_number
from videopipe.testing.zoo import ZOO, ffmpeg_frames, ffprobe_decoded, make_zoo_file, missing_encoders

BACKENDS = ["auto", "pyav", "torchcodec", "decord"]

# kinds whose frames are all distinct: a wrong frame differs from the right one
# by far more than two decoders' rounding (the frame-number cells flip)
_PIXEL_TOL = 3.0  # mean absolute difference (0-255) between our frame and ffmpeg's


def _zoo_file(name: str):
    kind = ZOO[name]
    missing = missing_encoders(kind)
    if missing:
        pytest.skip(f"this ffmpeg has no {', '.join(missing)} encoder to make the {name} file")
    return kind, make_zoo_file(name)


def _indices(n: int, k: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    pick = rng.choice(n, size=min(n, k), replace=False).tolist()
    return sorted({0, n - 1, *pick})


def _unrotate(a: np.ndarray, rotation: int) -> np.ndarray:
    return np.rot90(a, -(rotation // 90)) if rotation else a


def _open(path, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncated / sequential-access warnings: tested elsewhere
        return open_video(path, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_file_reads_exactly(name, backend):
    kind, path = _zoo_file(name)
    ordinal = probe(path).video_ordinal
    try:
        r = _open(path, backend)
    except UnsupportedVideoError as e:
        assert backend not in ("auto", "pyav"), f"{backend} must read every file: {e}"
        assert str(path) in str(e) and "backend=" in str(e)  # names the file and what reads it
        return
    with r:
        info = r.info
        want = ffprobe_decoded(path, ordinal)
        assert info.num_frames == want.num_frames, "frame count differs from ffmpeg's decode"
        if "lies" in kind.tags and info.access in ("sequential", "remapped"):
            # the decoder's own times are out of order (pts = dts); ffprobe's guess at them is
            # not a reference: ours are the same frame times, in presentation order
            assert np.all(np.diff(r.pts_s) > 0)
            assert info.duration_s == pytest.approx(info.num_frames / info.fps, abs=1e-6)
        else:
            assert info.duration_s == pytest.approx(want.duration_s, abs=1.5e-3)
            np.testing.assert_allclose(r.pts_s, np.sort(want.pts_s), atol=1.5e-3)
        n = info.num_frames
        large = "large" in kind.tags
        idx = _indices(n, 4 if large else 24, seed=len(name))
        ask = list(reversed(idx))  # any order
        ref = ffmpeg_frames(path, ordinal, info.width, info.height, idx)
        assert ref.shape[0] == len(idx)
        got = r.frames_at(ask).data.numpy()[::-1]
        assert r.frames_at(ask).indices.tolist() == ask
        # the last frame of a cut file is partly concealed, differently by each decoder version
        check = [j for j, i in enumerate(idx) if not ("truncated" in kind.tags and i == n - 1)]
        diffs = np.abs(got[check].astype(np.int16) - ref[check].astype(np.int16)).mean(axis=(1, 2, 3))
        assert diffs.max() <= _PIXEL_TOL, (
            f"frames {[idx[j] for j in check if diffs[check.index(j)] > _PIXEL_TOL]}"
        )
        if kind.frame_numbers:
            nums = [read_frame_number(_unrotate(got[j], info.rotation)) for j in check]
            refs = [read_frame_number(_unrotate(ref[j], info.rotation)) for j in check]
            assert nums == refs
            small = r.frames_at(ask, size=48).data.numpy()[::-1]
            assert [read_frame_number(_unrotate(small[j], info.rotation)) for j in check] == refs


@pytest.mark.parametrize("name", sorted(n for n, k in ZOO.items() if "lies" in k.tags))
def test_files_that_lie_say_how_they_are_read(name):
    _, path = _zoo_file(name)
    r = _open(path, "auto")
    with r:
        assert r.info.access in ("random", "remapped", "sequential")
        assert r.info.to_dict()["access"] == r.info.access
        if r.info.access != "random":
            assert r._index.access_reason


def test_pts_eq_dts_file_keeps_exact_seeking_by_the_decoders_times_and_warns_once():
    from videopipe.decode.pyav_backend import SequentialAccessWarning

    _, path = _zoo_file("h264_pts_eq_dts")
    ref = None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = open_video(path, backend="pyav")
        with r:
            assert r.info.access == "remapped"
            ref = ffmpeg_frames(path, 0, r.info.width, r.info.height)
            got = r.frames_at([60, 5, 1]).data.numpy()
            seeks = r.seeks
            last = r.frames_at([70]).data.numpy()
            assert r.seeks > seeks  # frame 70 is reached by a seek, not by decoding from the start
            assert r.info.access == "remapped"  # no fallback was needed
    for a, i in zip([*got, *last], [60, 5, 1, 70]):
        assert np.abs(a.astype(int) - ref[i].astype(int)).mean() <= _PIXEL_TOL
    seq = [x for x in w if issubclass(x.category, SequentialAccessWarning)]
    assert len(seq) == 1 and str(path) in str(seq[0].message)


@pytest.fixture
def sequential_only(monkeypatch):
    """Tables from the decoder without the decoder-time remap: only sequential reads."""
    import dataclasses

    import videopipe.decode.decoded_table as index_mod

    real = index_mod.decoded_table

    def no_remap(*a, **k):
        ix = real(*a, **k)
        return dataclasses.replace(ix, access="sequential", decoder_pts=None, key_seek=ix.key_pts)

    monkeypatch.setattr(index_mod, "decoded_table", no_remap)
    monkeypatch.setattr("videopipe.decode.table_cache.load_table", lambda *a: None)
    monkeypatch.setattr("videopipe.decode.table_cache.save_table", lambda *a: None)


@pytest.mark.parametrize("backend", ["torchcodec", "decord"])
def test_random_access_backends_refuse_a_file_that_lies(backend):
    _, path = _zoo_file("h264_pts_eq_dts")
    with pytest.raises(UnsupportedVideoError, match="frame-exactly") as e:
        _open(path, backend)
    assert str(path) in str(e.value) and "backend='pyav'" in str(e.value)


def test_sequential_reads_continue_forward_and_restart_backwards(sequential_only):
    _, path = _zoo_file("h264_pts_eq_dts")
    r = _open(path, "pyav")
    with r:
        assert r.info.access == "sequential"
        n = r.info.num_frames
        ref = ffmpeg_frames(path, 0, r.info.width, r.info.height)
        a = r.frames_at([3, 10]).data.numpy()
        before = r.frames_decoded
        b = r.frames_at([20]).data.numpy()  # forward: continues, decodes only 11..20
        assert r.frames_decoded - before == 10
        c = r.frames_at([0, n - 1]).data.numpy()  # backwards: starts again
        for got, i in ((a[0], 3), (a[1], 10), (b[0], 20), (c[0], 0), (c[1], n - 1)):
            assert np.abs(got.astype(int) - ref[i].astype(int)).mean() <= _PIXEL_TOL
        assert sum(len(f) for f in r.iter_frames(every=7)) == len(range(0, n, 7))


def test_one_frame_file_has_the_frame_duration_of_its_rate():
    _, path = _zoo_file("one_frame")
    with _open(path, "pyav") as r:
        assert r.info.num_frames == 1
        assert r.info.duration_s == pytest.approx(0.04, abs=1e-3)
        assert r.info.fps == pytest.approx(25, rel=1e-3)


def test_millisecond_timestamps_are_not_variable_frame_rate():
    _, path = _zoo_file("ntsc_mkv")
    with _open(path, "pyav") as r:
        assert not r.info.is_vfr
        assert r.info.fps == pytest.approx(30000 / 1001, rel=1e-3)


def test_avi_header_count_is_not_evidence_of_lost_frames():
    from videopipe.decode.frame_table import TruncatedVideoWarning

    _, path = _zoo_file("truncated_avi")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = open_video(path, backend="pyav")
    with r:
        assert r.info.frames_lost == 0
        assert r.info.num_frames == ffprobe_decoded(path, 0).num_frames
    assert not [x for x in w if issubclass(x.category, TruncatedVideoWarning)]


def test_a_lie_missed_on_open_is_caught_by_the_first_decode(monkeypatch):
    """Were the open-time check to miss a packed bitstream, the per-frame pts check still
    catches it: the table is rebuilt from the decoder and the frames are the right ones."""
    import videopipe.decode.build_table as index_mod
    from videopipe.decode.pyav_backend import SequentialAccessWarning

    _, path = _zoo_file("mpeg4_avi_packed")
    monkeypatch.setattr(index_mod, "_may_hide_reordering", lambda stream: False)
    # as on a first open: no table of this file kept from an earlier test
    monkeypatch.setattr("videopipe.decode.table_cache.load_table", lambda *a: None)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = open_video(path, backend="pyav")
        assert r.info.access == "random"  # not detected on open (the check is off)
        with r:
            n = r.info.num_frames
            idx = _indices(n, 12, seed=3)
            got = r.frames_at(idx).data.numpy()
            assert r.info.access == "remapped"
    assert any(issubclass(x.category, SequentialAccessWarning) for x in w)
    ref = ffmpeg_frames(path, 0, got.shape[2], got.shape[1], idx)
    assert np.abs(got.astype(np.int16) - ref.astype(np.int16)).mean(axis=(1, 2, 3)).max() <= _PIXEL_TOL


def test_a_decoded_table_is_kept_on_disk_and_not_decoded_again(monkeypatch, tmp_path):
    import videopipe.decode.build_table as index_mod
    import videopipe.decode.decoded_table as decoded_mod

    monkeypatch.setenv("VIDEOPIPE_CACHE", str(tmp_path / "cache"))
    _, path = _zoo_file("h264_pts_eq_dts")
    calls = []
    real = decoded_mod.decoded_table
    monkeypatch.setattr(decoded_mod, "decoded_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    checks = []
    real_check = index_mod.verify_decode_order
    monkeypatch.setattr(
        index_mod, "verify_decode_order", lambda *a, **k: checks.append(1) or real_check(*a, **k)
    )
    first = _open(path, "pyav")
    with first:
        want = first.frames_at([7, 40]).data.numpy()
        pts = first.pts_s
    assert calls == [1] and list((tmp_path / "cache" / "frame-tables").glob("*.npz"))
    again = _open(path, "pyav")
    with again:
        assert calls == [1] and checks == [1]  # from the cache: no second full decode, no re-check
        assert again.info.access == first.info.access == "remapped"
        np.testing.assert_array_equal(again.pts_s, pts)
        np.testing.assert_array_equal(again.frames_at([7, 40]).data.numpy(), want)
    # a changed file is a miss
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(path.read_bytes())
    with _open(copy, "pyav") as r:
        assert r.info.num_frames == first.info.num_frames
    assert calls == [1, 1]


def test_a_lie_that_ends_in_sequential_reading_stops_using_frame_threads(monkeypatch, sequential_only):
    """Sequential reads count the decoder's output, which frame threads can lose frames of;
    a fallback to them mid-read must reopen the stream without frame threads."""
    import videopipe.decode.build_table as index_mod

    _, path = _zoo_file("mpeg4_avi_packed")
    monkeypatch.setattr(index_mod, "_may_hide_reordering", lambda stream: False)
    r = _open(path, "pyav")
    with r:
        assert r.info.access == "random" and "AUTO" in str(r._stream.thread_type)
        n = r.info.num_frames
        idx = _indices(n, 12, seed=5)
        from videopipe.decode.pyav_backend import SequentialAccessWarning

        with pytest.warns(SequentialAccessWarning, match=str(path)):
            got = r.frames_at(idx).data.numpy()
        assert r.info.access == "sequential"
        assert "AUTO" not in str(r._stream.thread_type)
    ref = ffmpeg_frames(path, 0, got.shape[2], got.shape[1], idx)
    assert np.abs(got.astype(np.int16) - ref.astype(np.int16)).mean(axis=(1, 2, 3)).max() <= _PIXEL_TOL


def _run_exe(*args: str):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    exe = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("name", ["mp4_edit_list_hides_frames", "damaged_mkv"])
def test_info_and_frames_count_what_ffmpeg_presents(name):
    import json

    _, path = _zoo_file(name)
    want = ffprobe_decoded(path, 0)
    r = _run_exe("info", "--json", str(path))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["num_frames"] == want.num_frames and info["num_frames_exact"] is True
    assert info["duration_s"] == pytest.approx(want.duration_s, abs=0.05)
    r = _run_exe("frames", "--json", str(path))
    assert r.returncode == 0, r.stderr
    got = [f["index"] for f in json.loads(r.stdout)["frames"]]
    assert got and max(got) < want.num_frames


def test_a_reader_that_finds_its_table_wrong_adopts_the_corrected_one(monkeypatch, tmp_path):
    """Damage the demux pass did not notice: the first decode finds packets that do not decode,
    and the reader adopts the decoder's table (info follows, with a warning) instead of failing."""
    import videopipe.decode.build_table as index_mod
    from videopipe.decode.pyav_backend import FrameTableCorrectedWarning

    monkeypatch.setenv("VIDEOPIPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(index_mod, "_TABLES", index_mod.FileMemo(8))
    monkeypatch.setattr("videopipe.decode.demux.libav_errors", lambda: 0)  # the demuxer's errors go unseen
    _, path = _zoo_file("damaged_mkv")
    want = ffprobe_decoded(path, 0).num_frames
    r = _open(path, "pyav")
    with r:
        n = r.info.num_frames
        assert n > want  # the packets' count
        with pytest.warns(FrameTableCorrectedWarning, match=f"to {want} frames"):
            with pytest.raises(OutOfRangeError, match=f"corrected to {want} frames"):
                r.frames_at(list(range(n)))  # the frames past the decodable ones do not exist
        assert r.info.num_frames == want == r.pts_s.shape[0] and r.info.frames_lost == 0
        got = r.frames_at([0, 5, want - 1])
        ref = ffmpeg_frames(path, 0, r.info.width, r.info.height, [0, 5, want - 1])
        assert np.abs(got.data.numpy().astype(int) - ref.astype(int)).mean() < _PIXEL_TOL
        assert r.frames_at([want - 2]).data.shape[0] == 1
