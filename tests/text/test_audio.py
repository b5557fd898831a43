"""The audio track, decoded with PyAV to 16 kHz mono float32 and streamed in chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videopipe.errors import DecodeError, VideoNotFoundError
from videopipe.text.audio import SAMPLE_RATE, audio_track, iter_audio


def test_chunks_are_contiguous_16k_mono_and_cover_the_track(spoken) -> None:
    path, script = spoken
    track = audio_track(path)
    assert track is not None and abs(track.duration_s - 40.0) < 0.2
    chunks = list(iter_audio(path, chunk_s=7.0))
    assert all(c.samples.dtype == np.float32 and c.samples.ndim == 1 for c in chunks)
    assert all(c.samples.shape[0] == 7 * SAMPLE_RATE for c in chunks[:-1])  # fixed size but the last
    for a, b in zip(chunks, chunks[1:]):
        assert abs(a.end_s - b.start_s) < 1e-6
    total = sum(c.duration_s for c in chunks)
    assert abs(total - 40.0) < 0.2 and abs(chunks[0].start_s) < 0.1


def test_speech_is_where_the_script_says(spoken) -> None:
    """The loud samples of the decoded audio are the script's sentences (times line up)."""
    path, script = spoken
    audio = np.concatenate([c.samples for c in iter_audio(path, chunk_s=10.0)])
    frame = SAMPLE_RATE // 10
    rms = np.sqrt((audio[: audio.size // frame * frame].reshape(-1, frame) ** 2).mean(axis=1))
    loud = rms > 0.02
    for ln in script.lines:
        mid = int((ln.start_s + ln.end_s) / 2 * 10)
        assert loud[mid], ln
        assert not loud[int(ln.start_s * 10) - 5], ln  # half a second before: silence
    assert loud.mean() < 0.4


def test_no_audio_track_is_none_and_yields_nothing(no_audio: Path) -> None:
    assert audio_track(no_audio) is None
    assert list(iter_audio(no_audio)) == []


def test_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    with pytest.raises(VideoNotFoundError, match="gone.mp4: no such file"):
        audio_track(missing)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(DecodeError, match=r"bad\.mp4"):
        list(iter_audio(bad))
