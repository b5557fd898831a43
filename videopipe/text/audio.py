"""The audio track of a video, decoded with PyAV and resampled to 16 kHz mono float32 (what
speech models take), streamed in chunks so that memory stays flat in the video's length.

:func:`audio_track` says whether there is an audio track (None when there is none: a clear,
non-fatal answer); :func:`iter_audio` yields :class:`AudioChunk` s of ``chunk_s`` seconds
each (the last one shorter), timed in seconds from the first *video* frame, like decoded
frames and subtitle cues. Damaged packets are skipped like the ffmpeg command line does.
Errors are :class:`~videopipe.errors.DecodeError` s that name the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import library_errors_as_decode_errors

__all__ = ["SAMPLE_RATE", "AudioChunk", "AudioTrack", "audio_track", "iter_audio"]

#: samples per second of the decoded audio
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioTrack:
    """The first audio stream of a video, as the container describes it."""

    video: str
    stream_index: int
    codec: str
    sample_rate: int
    channels: int
    #: seconds (the container's figure; the decoded length can differ slightly)
    duration_s: float
    #: time of the first audio sample, in seconds from the first video frame
    offset_s: float
    #: the container time of the first video frame (0 without a video stream)
    video_start_s: float = 0.0


@dataclass(frozen=True)
class AudioChunk:
    """``samples`` (float32 [n], 16 kHz mono) starting at ``start_s`` (seconds from the first
    video frame)."""

    start_s: float
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def _check_file(video: str | Path) -> Path:
    from videopipe.decode.probe import check_path

    return check_path(video)


def _open(p: Path) -> Any:
    from videopipe.decode.safe_open import open_av

    with library_errors_as_decode_errors(f"{p} cannot be opened", "check that it is a media file"):
        return open_av(p)


def _first_video_time_s(container: Any) -> float:
    """Time of the first video packet with a pts (stream ``start_time`` lies in Matroska)."""
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    try:
        for pkt in container.demux(stream):
            if pkt.pts is not None:
                return float(pkt.pts * pkt.time_base)
    except Exception:  # noqa: BLE001 - a damaged video stream: times start at 0
        return 0.0
    return 0.0


def audio_track(video: str | Path) -> AudioTrack | None:
    """The first audio stream of ``video``, or None when it has no audio track."""
    p = _check_file(video)
    container = _open(p)
    try:
        if not container.streams.audio:
            return None
        a = container.streams.audio[0]
        tb = a.time_base
        if a.duration is not None and tb is not None:
            duration = float(a.duration * tb)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        a_start = float(a.start_time * tb) if a.start_time is not None and tb is not None else 0.0
        v_start = _first_video_time_s(container)
        return AudioTrack(
            video=str(p),
            stream_index=a.index,
            codec=a.codec_context.name,
            sample_rate=int(a.codec_context.sample_rate or 0),
            channels=int(a.codec_context.channels or 0),
            duration_s=duration,
            offset_s=a_start - v_start,
            video_start_s=v_start,
        )
    finally:
        container.close()


def iter_audio(video: str | Path, *, chunk_s: float = 30.0) -> Iterator[AudioChunk]:
    """The audio of ``video`` as 16 kHz mono float32 chunks of ``chunk_s`` seconds, in order
    (nothing when there is no audio track). At most about two chunks are in memory at once."""
    if not chunk_s > 0:
        raise ValueError(f"chunk_s must be > 0, got {chunk_s}")
    p = _check_file(video)
    track = audio_track(p)
    if track is None:
        return
    import av

    from videopipe.decode.container import decode_tolerant

    chunk_n = max(1, round(chunk_s * SAMPLE_RATE))
    container = _open(p)
    try:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        parts: list[np.ndarray] = []
        have = 0
        start_s: float | None = None
        with library_errors_as_decode_errors(
            f"the audio of {p} cannot be decoded", "check the file with ffprobe"
        ):
            frames = decode_tolerant(container, stream)
            for frame in _with_flush(frames):
                for out in resampler.resample(frame):
                    if start_s is None:
                        start_s = _frame_time_s(frame, track)
                    arr = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    parts.append(arr)
                    have += arr.shape[0]
                    while have >= chunk_n:
                        buf = np.concatenate(parts)
                        yield AudioChunk(start_s, buf[:chunk_n].copy())
                        start_s += chunk_n / SAMPLE_RATE
                        rest = buf[chunk_n:]
                        parts = [rest] if rest.size else []
                        have = rest.shape[0]
        if have and start_s is not None:
            yield AudioChunk(start_s, np.concatenate(parts))
    finally:
        container.close()


def _with_flush(frames: Iterator[Any]) -> Iterator[Any]:
    """The decoded frames, then None (which flushes the resampler)."""
    yield from frames
    yield None


def _frame_time_s(frame: Any, track: AudioTrack) -> float:
    """Start time of the first decoded frame, in seconds from the first video frame."""
    if frame is not None and frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base) - track.video_start_s
    return track.offset_s
