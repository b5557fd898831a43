"""How many decoding workers a pyav reader uses, and how a request is split among them.

``workers=None/0`` means one per usable core: the cores in this process's affinity mask,
capped by the environment variable ``VIDEOPIPE_DECODE_CORES`` when it is set (read when a
reader is made). A batch worker that is one of N processes sharing the machine sets it to its
share of the cores, so N readers do not each start a thread per core.

Parallel decoding (``workers``): the targets of one request are independent seeks, so a big
enough request is split into contiguous shares of its sorted targets, cut only where the
sequential decode would seek anyway (between groups of pictures), balanced by the frames each
share must decode, and decoded by one thread per share, each on its own container of the same
file (a second ``av.open``; the frame table and probe are shared, never rebuilt). libavcodec,
the demuxer and swscale run without the GIL. Results are assembled in the order asked; the
frames are those of the serial decode (each share starts with the seek the serial decode makes
there). Sequential-access files are read by one worker.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from videopipe.decode.frame_table import FrameIndex, IndexMismatch
from videopipe.errors import ConfigError

if TYPE_CHECKING:
    from videopipe.decode.pyav_backend import PyAVReader, PyAVWorker

__all__ = [
    "DECODE_CORES_ENV",
    "MIN_PARALLEL_FRAMES",
    "SEEK_COST_FRAMES",
    "check_workers",
    "decode_shares",
    "estimated_frames",
    "set_decode_cores",
    "split_shares",
    "usable_cores",
]

DECODE_CORES_ENV = "VIDEOPIPE_DECODE_CORES"
# A request goes parallel only when its shares are estimated to decode at least this many
# frames in all (below that, thread start-up and, on the first request, opening the workers'
# containers cost more than they save; see docs/decoding.md "Workers").
MIN_PARALLEL_FRAMES = 8
# What a seek costs beside decoding, in frames (keyframe-only requests are a seek + one frame
# per target): used to balance shares.
SEEK_COST_FRAMES = 1


def _cores_cap() -> int | None:
    """The cap ``VIDEOPIPE_DECODE_CORES`` sets (None when unset or empty)."""
    text = os.environ.get(DECODE_CORES_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(
            f"{DECODE_CORES_ENV}={text!r} is not valid; set it to a positive integer (the cores a "
            "reader's workers may use), or unset it"
        )
    return int(text)


def set_decode_cores(cap: int | None) -> None:
    """Cap what ``workers=None/0`` means for readers made from now on in this process (and its
    children): sets ``VIDEOPIPE_DECODE_CORES`` (None: removes it). A process that is one of
    several sharing the machine sets its share of the cores."""
    if cap is None:
        os.environ.pop(DECODE_CORES_ENV, None)
    else:
        os.environ[DECODE_CORES_ENV] = str(max(1, int(cap)))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, capped by
    ``VIDEOPIPE_DECODE_CORES``), at least 1."""
    try:
        n = max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        n = max(1, os.cpu_count() or 1)
    cap = _cores_cap()
    return n if cap is None else min(n, cap)


def check_workers(workers: object) -> int:
    """The number of workers ``workers`` asks for (None/0: one per usable core)."""
    if workers is None:
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ConfigError(
            f"workers={workers!r} is not valid; pass a positive integer (decoding threads, each "
            "with its own container), or 0/None for one per usable core"
        )
    return int(workers) or usable_cores()


def _runs(index: FrameIndex, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of the sorted targets ``indices`` that the serial decode reads without a seek
    (targets in one group of pictures): (first target of each run, frames each run decodes,
    from its keyframe to its last target). Keyframe frame numbers come from the table."""
    key_frame_no = np.searchsorted(index.pts, index.key_pts)  # frame number of each keyframe
    k = np.clip(np.searchsorted(index.key_pts, index.pts[indices], side="right") - 1, 0, None)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], indices.shape[0]]
    return starts, np.maximum(indices[ends - 1] - key_frame_no[k[starts]] + 1, 1)


def estimated_frames(index: FrameIndex, indices: np.ndarray) -> int:
    """Frames the decoder must decode for the sorted targets ``indices`` (per group of
    pictures, from its keyframe to its last target)."""
    return int(_runs(index, indices)[1].sum()) if indices.shape[0] else 0


def split_shares(index: FrameIndex, indices: np.ndarray, workers: int) -> list[slice]:
    """Cut the sorted targets ``indices`` into at most ``workers`` contiguous shares of about
    equal decoding cost, only where the serial decode seeks (between runs, see :func:`_runs`),
    so that no group of pictures is decoded twice. A run costs its frames plus a seek
    (:data:`SEEK_COST_FRAMES`)."""
    n = indices.shape[0]
    if workers <= 1 or n < 2:
        return [slice(0, n)]
    starts, frames = _runs(index, indices)
    shares = min(workers, starts.shape[0])
    if shares <= 1:
        return [slice(0, n)]
    cost = (frames + SEEK_COST_FRAMES).astype(np.float64)
    cum = np.cumsum(cost)
    # a run goes to the share its middle falls in
    owner = np.minimum(((cum - cost / 2) * shares / cum[-1]).astype(np.int64), shares - 1)
    cuts = starts[1:][owner[1:] != owner[:-1]].tolist()
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def decode_shares(
    parent: PyAVReader,
    workers: list[PyAVWorker],
    indices: np.ndarray,
    shares: list[slice],
    hw: tuple[int, int],
) -> np.ndarray:
    """Each share decoded by its own worker in its own thread, into one output array; the
    workers' frames and seeks are added to the parent's counts."""
    out = np.empty((indices.shape[0], hw[0], hw[1], 3), np.uint8)

    def run(w: PyAVWorker, share: slice) -> None:
        out[share] = w._decode_sorted_once(indices[share], hw)

    try:
        with ThreadPoolExecutor(len(shares), thread_name_prefix="videopipe-pyav") as pool:
            futures = [pool.submit(run, w, sh) for w, sh in zip(workers, shares)]
            errors = [f.exception() for f in futures]
    finally:
        for w in workers:
            parent.frames_decoded += w.frames_decoded
            parent.seeks += w.seeks
            w.frames_decoded = w.seeks = 0
    raised = [e for e in errors if e is not None]
    if raised:
        # a real error before a table mismatch (which makes the caller retry with a new table)
        raise next((e for e in raised if not isinstance(e, IndexMismatch)), raised[0])
    return out
