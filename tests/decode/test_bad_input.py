"""Bad input: each case raises a specific videopipe error naming the file, the problem and a fix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.decode.helpers import gen_video
from videopipe.decode import open_video
from videopipe.decode.frame_table import TruncatedVideoWarning
from videopipe.errors import (
    ConfigError,
    DecodeError,
    DeviceError,
    MissingDependencyError,
    OutOfRangeError,
    UnknownPluginError,
    UnsupportedVideoError,
    VideoNotFoundError,
)
from videopipe.fingerprint import FileMemo
from videopipe.testing.videos import read_frame_number

BACKENDS = ["pyav", "torchcodec", "decord"]


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-videos")
    files = {
        "empty": d / "empty.mp4",
        "random": d / "random.mp4",
        "text": d / "notes.avi",
        "audio": d / "audio.m4a",
        "truncated": d / "truncated.mp4",
        "no_frames": d / "no_frames.mp4",
        "dir": d / "folder.mp4",
    }
    files["empty"].write_bytes(b"")
    files["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    files["text"].write_text("this is a text file, not a video\n" * 20)
    files["dir"].mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
            str(files["audio"]),
        ],
        check=True,
    )
    full = gen_video("h264_bframes").read_bytes()  # 150 frames, moov at the front (faststart)
    files["truncated"].write_bytes(full[: int(len(full) * 0.6)])
    mdat = full.find(b"mdat")
    files["no_frames"].write_bytes(full[: mdat + 100])  # the index, but no frame data
    return files


def _names_file(err: pytest.ExceptionInfo, path: Path) -> None:
    assert str(path) in str(err.value)


def test_missing_path(tmp_path):
    p = tmp_path / "nope.mp4"
    with pytest.raises(VideoNotFoundError, match="no such file") as e:
        open_video(p)
    _names_file(e, p)


@pytest.mark.parametrize(
    "case,error,words",
    [
        ("dir", VideoNotFoundError, "is a directory"),
        ("empty", DecodeError, "empty"),
        ("random", DecodeError, "not a readable video"),
        ("text", DecodeError, "not a readable video"),
        ("audio", UnsupportedVideoError, "no video stream"),
        ("no_frames", DecodeError, "0 decodable frames"),
    ],
)
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_bad_files_raise_specific_errors(bad, case, error, words, backend):
    with pytest.raises(error, match=words) as e:
        open_video(bad[case], backend=backend)
    _names_file(e, bad[case])
    assert type(e.value) is error or issubclass(type(e.value), error)


@pytest.mark.parametrize("backend", ["pyav", "auto"])
def test_truncated_file_yields_every_decodable_frame_and_says_how_many_were_lost(bad, backend):
    with pytest.warns(TruncatedVideoWarning, match=r"\d+ lost") as w:
        r = open_video(bad["truncated"], backend=backend)
    assert str(bad["truncated"]) in str(w[0].message)
    with r:
        n = r.info.num_frames
        assert 0 < n < 150
        assert r.info.frames_lost == 150 - n == r.frames_lost
        # the frames that are there are the right ones, up to the last one
        got = [read_frame_number(a) for a in r.frames_at([0, n // 2, n - 1]).data.numpy()]
        assert got == [0, n // 2, n - 1]
        assert sum(len(f) for f in r.iter_frames(size=32)) == n
    # ... and that is exactly what ffmpeg decodes (it skips the damaged packets, and so do we)
    from videopipe.testing.zoo import ffprobe_decoded

    assert n == ffprobe_decoded(bad["truncated"], 0).num_frames


def test_torchcodec_refuses_a_cut_file_instead_of_failing_on_its_tail(bad):
    with pytest.warns(TruncatedVideoWarning), pytest.raises(UnsupportedVideoError, match="torchcodec") as e:
        open_video(bad["truncated"], backend="torchcodec")
    assert "backend='pyav'" in str(e.value)
    _names_file(e, bad["truncated"])


def test_decord_refuses_truncated_file_instead_of_hanging(bad):
    # decord would loop forever on indices past the real end (dmlc/decord#373)
    with pytest.warns(TruncatedVideoWarning), pytest.raises(DecodeError, match="decord"):
        open_video(bad["truncated"], backend="decord")


@pytest.mark.parametrize("backend", BACKENDS)
def test_indices_and_times_out_of_range(backend):
    path = gen_video("h264")
    with open_video(path, backend=backend) as r:
        for bad_idx in ([150], [-1], [0, 1000]):
            with pytest.raises(OutOfRangeError, match=r"0\.\.149") as e:
                r.frames_at(bad_idx)
            _names_file(e, path)
        for bad_t in ([6.0], [-0.1], [float("nan")], [1e9]):
            with pytest.raises(OutOfRangeError, match="0 <= t < 6") as e:
                r.frames_at_times(bad_t)
        with pytest.raises(ConfigError, match="integers"):
            r.frames_at([1.5])
        with pytest.raises(ConfigError, match="size"):
            r.frames_at([1], size=0)
        with pytest.raises(ConfigError, match="every"):
            next(r.iter_frames(every=0))


def test_unknown_backend_lists_valid_names():
    with pytest.raises(UnknownPluginError, match="decord, pyav, torchcodec"):
        open_video(gen_video("h264"), backend="ffmpegx")


def test_unknown_device():
    with pytest.raises(ConfigError, match="device 'tpu'"):
        open_video(gen_video("h264"), device="tpu")


def test_cuda_without_gpu_says_why():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    for backend in ("auto", "torchcodec", "decord"):
        with pytest.raises(DeviceError, match="cuda") as e:
            open_video(gen_video("h264"), backend=backend, device="cuda")
        assert "device='cpu'" in str(e.value)
    with pytest.raises(DeviceError, match="CPU only"):
        open_video(gen_video("h264"), backend="pyav", device="cuda")


def test_closed_reader_refuses_work():
    r = open_video(gen_video("h264"), backend="pyav")
    r.close()
    with pytest.raises(ConfigError, match="closed"):
        r.frames_at([0])


def test_missing_ffprobe_is_a_clear_error(monkeypatch):
    import videopipe.decode.probe as probe_mod

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(probe_mod, "_PROBES", FileMemo())  # a probe run, not a remembered one
    with pytest.raises(MissingDependencyError, match="apt-get install ffmpeg"):
        probe_mod.probe(gen_video("h264"))


def test_a_library_error_while_decoding_becomes_a_decode_error_naming_the_file(monkeypatch):
    import av

    from videopipe.decode.pyav_backend import PyAVReader

    path = gen_video("h264")

    def boom(self, indices, hw):
        raise av.InvalidDataError(1094995529, "Invalid data found when processing input")

    with open_video(path, backend="pyav") as r:
        monkeypatch.setattr(PyAVReader, "_decode_sorted", boom)
        with pytest.raises(DecodeError, match="InvalidDataError") as e:
            r.frames_at([3])
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_bug_of_ours_is_not_disguised_as_a_decode_error(monkeypatch):
    from videopipe.decode.pyav_backend import PyAVReader

    with open_video(gen_video("h264"), backend="pyav") as r:
        monkeypatch.setattr(PyAVReader, "_decode_sorted", lambda self, i, hw: {}["missing"])
        with pytest.raises(KeyError):
            r.frames_at([3])


def test_probe_errors_are_one_clean_line_without_log_addresses(tmp_path):
    src = gen_video("h264")
    cut = tmp_path / "cut.mp4"
    data = src.read_bytes()
    # keep the ftyp box but not the moov box: ffmpeg logs "[mov,mp4,... @ 0x55...] moov atom not found"
    cut.write_bytes(data[:24] + bytes(len(data) // 4))
    with pytest.raises(DecodeError) as e:
        open_video(cut)
    msg = str(e.value)
    assert msg.startswith(str(cut)) and msg.count(str(cut)) == 1
    assert "@ 0x" not in msg and "\n" not in msg


def test_a_file_is_probed_and_indexed_again_once_it_changes(tmp_path):
    import shutil as sh

    from videopipe.decode import build_table as index_mod
    from videopipe.decode.probe import probe

    a, b = gen_video("h264"), gen_video("vfr_h264")
    p = tmp_path / "v.mp4"
    sh.copy(a, p)
    first = probe(p)
    assert probe(p) is first  # remembered while unchanged
    with open_video(p) as r:
        n_a = r.info.num_frames
    with open_video(p) as r:
        assert r.info.num_frames == n_a
    sh.copy(b, p)  # replaced in place: new size and time
    assert probe(p) is not first
    with open_video(p) as r:
        assert r.info.is_vfr
    assert index_mod._TABLES.size >= 1


def test_file_memo_computes_once_per_unchanged_file_and_keeps_only_what_keep_allows(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x")
    memo, calls = FileMemo(2), []

    def compute(value):
        calls.append(value)
        return value

    key = FileMemo.key(f)
    assert memo.cached(key, lambda: compute("a")) == "a" and memo.cached(key, lambda: compute("b")) == "a"
    assert calls == ["a"]
    f.write_bytes(b"xy")  # changed: another key, computed again
    assert memo.cached(FileMemo.key(f), lambda: compute("c")) == "c"
    skip = FileMemo.key(f, "other")
    assert memo.cached(skip, lambda: compute("d"), keep=lambda v: False) == "d"
    assert memo.get(skip) is None  # not kept
    assert memo.cached(FileMemo.key(tmp_path / "gone"), lambda: compute("e")) == "e"  # no key
    assert calls == ["a", "c", "d", "e"]
