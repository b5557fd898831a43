"""The codec threads a pyav reader decodes with (:class:`CodecThreads`).

Codec threads are chosen per access pattern, by measurement on H.264, HEVC, VP9 and AV1
(``benchmarks/results/codec_threads.md``): a request whose targets are all keyframes (one
packet decoded per seek) uses slice threads only -- frame threads cannot overlap one frame and
cost their start-up and flush at every seek (up to 1.8x slower on AV1) -- and libdav1d, whose
own threads behave like frame threads, one thread; a request that decodes runs of frames uses
libavcodec's AUTO (frame and slice threads). Split over workers: one thread per worker for
keyframes, two (AUTO) per worker for runs, where frame threads still pay off. A file where frame
threads are unsafe (damaged, sequential access) never uses them. The codec context's threads
can be set only before it opens, so a request of the other pattern reopens the container
(about 0.02 s, and only when the pattern changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videopipe.decode.frame_table import Access, FrameIndex
from videopipe.enums import ValueEnum

__all__ = [
    "CodecThreads",
    "ThreadType",
    "apply_threads",
    "frame_threads_for",
    "reader_threads",
    "worker_threads",
]

# codec threads of each worker when a request is split (the workers already use the cores):
# keyframe-only requests, and requests decoding runs of frames
WORKER_THREADS = 1
WORKER_RUN_THREADS = 2


class ThreadType(ValueEnum):
    """libavcodec's threading (PyAV's ``thread_type`` names)."""

    NONE = "NONE"  # one thread
    SLICE = "SLICE"  # slices of one frame in parallel
    FRAME = "FRAME"  # successive frames in parallel
    AUTO = "AUTO"  # frame and slice threads


@dataclass(frozen=True)
class CodecThreads:
    """How a codec context is opened: ``type`` of threading and ``count`` (0: libavcodec's
    choice, PyAV's default)."""

    type: ThreadType
    count: int


def frame_threads_for(index: FrameIndex) -> bool:
    """Whether to decode with frame threads: they lose the frames around a decoding error (a
    cut or damaged file), and are not used where exactness rests on counting the decoder's
    output (sequential access)."""
    return index.access is not Access.SEQUENTIAL and index.frames_lost == 0


def apply_threads(stream: Any, threads: CodecThreads) -> CodecThreads:
    """Set ``threads`` on ``stream``, whose codec is not yet open; returns them."""
    stream.thread_type = threads.type.value
    stream.codec_context.thread_count = threads.count
    return threads


def reader_threads(*, keys_only: bool, frame_threads: bool, count: int, stream: Any) -> CodecThreads:
    """A reader's threads for a request of this pattern: slice threads for keyframes (one for
    libdav1d, whose own threads behave like frame threads), frame threads (AUTO) for runs of
    frames where they are safe; ``count`` (the reader's ``threads``, 0: libavcodec's choice)."""
    if keys_only:
        dav1d = stream.codec_context.name == "libdav1d"
        return CodecThreads(ThreadType.SLICE, count or (1 if dav1d else 0))
    return CodecThreads(ThreadType.AUTO if frame_threads else ThreadType.SLICE, count)


def worker_threads(*, keys_only: bool, frame_threads: bool) -> CodecThreads:
    """A worker's threads (the workers already use the cores): :data:`WORKER_THREADS` on
    keyframes, :data:`WORKER_RUN_THREADS` on runs of frames."""
    if keys_only:
        return CodecThreads(ThreadType.SLICE, WORKER_THREADS)
    return CodecThreads(ThreadType.AUTO if frame_threads else ThreadType.SLICE, WORKER_RUN_THREADS)
