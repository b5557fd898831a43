"""Screen text (slides, captions burnt into the picture, UI text) -> timed lines, with rapidocr
(PP-OCRv4 ONNX models shipped in the ``rapidocr-onnxruntime`` wheel).

OCR costs about a second per frame on a CPU, so it runs only where the picture changed:

1. **Probe** cheaply: every keyframe plus one frame every ``probe_s`` seconds, decoded small
   (``probe_px``, grey). A probe starts a new *picture* when it differs from the first probe of
   the current picture (not the previous probe, so a slow fade is still caught): more than
   ``change_fraction`` of its pixels moved by more than ``change_level`` grey levels.
2. **Refine** each change by bisecting between the two probes with the same cheap frame
   difference (no OCR): the boundary is found to the exact frame, so a line's start and end are
   the picture's real span, not the probe grid.
3. **Read** one frame per picture (decoded at ``ocr_px``), and **merge** consecutive pictures
   whose text is the same up to OCR noise (normalised edit ratio >= ``merge_ratio``): a slide
   shown for three minutes with a pointer moving over it is one line.

A picture shorter than ``probe_s`` between two probes that are alike can be missed; keyframes
(which encoders put at scene cuts) catch most of those.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import ConfigError, MissingDependencyError
from videopipe.text.timeline import Box, TextLine, TextSource

__all__ = [
    "OCRConfig",
    "OCR_COUNTERS",
    "ScreenText",
    "ocr_engine",
    "read_frame_text",
    "read_screen",
    "read_screen_text",
    "same_text",
]

OCR_EXTRA = "pip install 'videopipe[ocr]'"

#: progress(seconds of video done, total seconds)
VideoProgress = Callable[[float, float], None]


@dataclass(frozen=True)
class OCRConfig:
    """How screen text is found and read (see the module docstring for the steps).

    backend: the decoder of the probes (``pyav``: exact random access on the CPU, what the
    tests and the benchmark measure; ``auto`` lets :func:`~videopipe.decode.open_video` choose)."""

    probe_s: float = 2.0
    probe_px: int = 96
    keyframes: bool = True
    change_level: int = 24
    change_fraction: float = 0.002
    ocr_px: int = 720
    det_limit_px: int = 480
    min_score: float = 0.5
    merge_ratio: float = 0.8
    backend: str = "pyav"
    threads: int = 0  # the OCR model's CPU threads (0: onnxruntime's default, one per core)

    def __post_init__(self) -> None:
        if not 0.1 <= self.probe_s <= 60:
            raise ConfigError(f"OCR probe_s must be within 0.1..60 s, got {self.probe_s}")
        if not 16 <= self.probe_px <= 720:
            raise ConfigError(f"OCR probe_px must be within 16..720, got {self.probe_px}")
        if not 0 < self.change_fraction < 1:
            raise ConfigError(f"OCR change_fraction must be within (0, 1), got {self.change_fraction}")
        if not 0 < self.merge_ratio <= 1:
            raise ConfigError(f"OCR merge_ratio must be within (0, 1], got {self.merge_ratio}")
        if self.ocr_px < 64:
            raise ConfigError(f"OCR ocr_px must be >= 64, got {self.ocr_px}")

    def key(self) -> str:
        return (
            "|".join(
                f"{k}={getattr(self, k)}"
                for k in (
                    "probe_s",
                    "probe_px",
                    "keyframes",
                    "change_level",
                    "change_fraction",
                    "ocr_px",
                    "det_limit_px",
                    "min_score",
                    "merge_ratio",
                )
            )
            + f"|rapidocr={_rapidocr_version()}"
        )


def _rapidocr_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr-onnxruntime")
    except PackageNotFoundError:
        return "none"


@dataclass
class _Counters:
    """What screen-text reading cost (tests and the benchmark read these)."""

    videos: int = 0
    probes: int = 0  # small frames decoded to find changes (bisection included)
    ocr_frames: int = 0  # frames handed to the OCR model

    def reset(self) -> None:
        self.videos = self.probes = self.ocr_frames = 0


OCR_COUNTERS = _Counters()

_ENGINES: dict[tuple[int, int], Any] = {}
_LOCK = threading.Lock()


def ocr_engine(config: OCRConfig) -> Any:
    """The rapidocr engine of ``config`` (loaded once per process)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise MissingDependencyError(f"screen text needs rapidocr-onnxruntime ({OCR_EXTRA})") from None
    key = (config.det_limit_px, config.threads)
    with _LOCK:
        if key not in _ENGINES:
            import logging

            threads = {"intra_op_num_threads": config.threads} if config.threads > 0 else {}
            _ENGINES[key] = RapidOCR(
                det_limit_side_len=config.det_limit_px, det_limit_type="min", use_cls=False, **threads
            )
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        return _ENGINES[key]


@dataclass(frozen=True)
class ScreenText:
    """What :func:`read_screen` found, and what it cost."""

    lines: tuple[TextLine, ...]
    pictures: int  # distinct pictures found (OCR'd frames)
    probes: int  # small frames decoded
    duration_s: float


def _gray(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32).mean(axis=-1)


class _Prober:
    """Decodes frames small and grey, one batch at a time, and tells pictures apart."""

    def __init__(self, reader: Any, config: OCRConfig) -> None:
        self.reader = reader
        self.config = config
        self.decoded = 0

    def gray(self, indices: Sequence[int]) -> np.ndarray:
        f = self.reader.frames_at(list(indices), size=self.config.probe_px)
        self.decoded += len(indices)
        return _gray(np.asarray(f.data))

    def differ(self, a: np.ndarray, b: np.ndarray) -> bool:
        moved = np.abs(a - b) > self.config.change_level
        return bool(moved.mean() > self.config.change_fraction)


def _probe_indices(reader: Any, config: OCRConfig) -> np.ndarray:
    pts = np.asarray(reader.pts_s)
    n = pts.shape[0]
    grid = np.arange(0.0, float(pts[-1]) + 1e-9, config.probe_s)
    idx = np.searchsorted(pts, grid - 1e-6, side="left").clip(0, n - 1)
    parts = [idx, np.array([0, n - 1])]
    if config.keyframes:
        kf = np.asarray(reader.keyframe_times(), dtype=np.float64)
        if kf.size:
            parts.append(np.searchsorted(pts, kf - 1e-6, side="left").clip(0, n - 1))
    return np.unique(np.concatenate(parts).astype(np.int64))


def _boundary(prober: _Prober, lo: int, hi: int, a: np.ndarray, b: np.ndarray) -> int:
    """The first frame of the picture ``b`` (seen at ``hi``) after picture ``a`` (at ``lo``):
    bisect on which of the two each middle frame looks more like."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        m = prober.gray([mid])[0]
        if np.abs(m - a).mean() <= np.abs(m - b).mean():
            lo = mid
        else:
            hi = mid
    return hi


def _normalized(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def same_text(a: str, b: str, *, ratio: float) -> bool:
    """True when ``a`` and ``b`` are the same text up to OCR noise."""
    na, nb = _normalized(a), _normalized(b)
    if na == nb:
        return True
    if not na or not nb:
        return False
    return difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio() >= ratio


def read_frame_text(engine: Any, rgb: np.ndarray, config: OCRConfig) -> tuple[str, tuple[Box, ...]]:
    """The text of one frame in reading order (top to bottom, then left to right) + boxes in
    the frame's pixels."""
    result, _ = engine(np.ascontiguousarray(rgb[..., ::-1]), use_cls=False)
    OCR_COUNTERS.ocr_frames += 1
    items = []
    for box, text, score in result or ():
        text = " ".join(str(text).split())
        if text and float(score) >= config.min_score:
            pts = tuple((float(x), float(y)) for x, y in box)
            items.append((min(p[1] for p in pts), min(p[0] for p in pts), pts, text))
    if not items:
        return "", ()
    # rows: boxes whose tops are within half a box height of each other read left to right
    items.sort()
    rows: list[list[tuple[float, float, Box, str]]] = []
    for it in items:
        h = max(p[1] for p in it[2]) - it[0]
        if rows and abs(it[0] - rows[-1][0][0]) < 0.5 * max(h, 1.0):
            rows[-1].append(it)
        else:
            rows.append([it])
    ordered = [it for row in rows for it in sorted(row, key=lambda t: t[1])]
    return " ".join(t[3] for t in ordered), tuple(t[2] for t in ordered)


def read_screen(
    video: str | Path, config: OCRConfig | None = None, *, progress: VideoProgress | None = None
) -> ScreenText:
    """Find the distinct pictures of ``video``, read each once and merge repeats (see the
    module docstring). A video without text gives no lines."""
    from videopipe.decode import open_video

    config = config or OCRConfig()
    engine = ocr_engine(config)
    OCR_COUNTERS.videos += 1
    with open_video(video, backend=config.backend) as reader:
        pts = np.asarray(reader.pts_s, dtype=np.float64)
        n = pts.shape[0]
        duration = float(reader.info.duration_s)
        prober = _Prober(reader, config)
        probes = _probe_indices(reader, config)
        # pictures: [first frame, frame to read]; the reference is the first probe of each
        starts: list[int] = [0]
        ref = prober.gray([int(probes[0])])[0]
        prev_i, prev = int(probes[0]), ref
        batch = 32
        for k in range(1, probes.shape[0], batch):
            chunk = [int(i) for i in probes[k : k + batch]]
            grays = prober.gray(chunk)
            for i, g in zip(chunk, grays):
                if prober.differ(g, ref):
                    first = _boundary(prober, prev_i, i, prev, g) if prober.differ(prev, g) else i
                    if prober.differ(g, ref) and first > starts[-1]:
                        starts.append(first)
                        ref = g
                prev_i, prev = i, g
            if progress is not None:
                progress(float(pts[chunk[-1]]), duration)
        OCR_COUNTERS.probes += prober.decoded
        ends = starts[1:] + [n]
        lines: list[TextLine] = []
        for a, b in zip(starts, ends):
            # read a frame a little inside the picture (transitions blur the first frames)
            at = min(b - 1, a + max(1, (b - a) // 4)) if b - a > 1 else a
            rgb = np.asarray(reader.frames_at([at], size=_ocr_size(reader, config)).data)[0]
            text, boxes = read_frame_text(engine, rgb, config)
            start_s = float(pts[a])
            end_s = float(pts[b]) if b < n else duration
            if not text:
                continue
            last = lines[-1] if lines else None
            if (
                last is not None
                and abs(last.end_s - start_s) < 1e-6
                and same_text(last.text, text, ratio=config.merge_ratio)
            ):
                lines[-1] = TextLine(last.start_s, end_s, last.text, TextSource.screen, last.boxes)
            else:
                lines.append(TextLine(start_s, end_s, text, TextSource.screen, boxes))
    return ScreenText(tuple(lines), len(starts), prober.decoded, duration)


def _ocr_size(reader: Any, config: OCRConfig) -> int | None:
    info = reader.info
    short = min(info.width, info.height)
    return None if short <= config.ocr_px else config.ocr_px


def read_screen_text(
    video: str | Path, config: OCRConfig | None = None, *, progress: VideoProgress | None = None
) -> list[TextLine]:
    """The screen text of ``video`` as timed :class:`TextLine` s (``source=screen``, boxes
    kept), consecutive repeats merged."""
    return list(read_screen(video, config, progress=progress).lines)
