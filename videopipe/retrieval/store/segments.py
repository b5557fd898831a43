"""The clips of one file content (``segments/<key>.npz``): their vectors, spans, texts and the
sources of those texts, plus the video's timed text lines (to name the line that matched)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.retrieval.store.atomic import atomic_write
from videopipe.retrieval.store.damage import Problem, describe


@dataclass(frozen=True)
class LineTable:
    """The timed text lines of one video (subtitle cues, transcript lines, screen text) as an
    index keeps them, so that a hit can name the line that matched and its own span."""

    starts_s: np.ndarray  # float64 [L]
    ends_s: np.ndarray
    texts: list[str]
    sources: list[str]

    @staticmethod
    def empty() -> LineTable:
        return LineTable(np.zeros(0), np.zeros(0), [], [])

    @staticmethod
    def of(lines: Any) -> LineTable:
        """From :class:`~videopipe.text.timeline.TextLine` s (anything with start_s, end_s,
        text and source)."""
        lines = list(lines)
        return LineTable(
            np.asarray([ln.start_s for ln in lines], np.float64),
            np.asarray([ln.end_s for ln in lines], np.float64),
            [str(ln.text) for ln in lines],
            [str(ln.source) for ln in lines],
        )

    def __len__(self) -> int:
        return len(self.texts)

    def aligned(self) -> bool:
        return self.starts_s.shape == self.ends_s.shape == (len(self.texts),) == (len(self.sources),)

    def overlapping(self, start_s: float, end_s: float) -> list[int]:
        """Indices of the lines that overlap [start_s, end_s) (a zero-length line counts when
        its instant lies inside), in time order."""
        s, e = self.starts_s, self.ends_s
        inside = ((s < end_s) & (e > start_s)) | ((s == e) & (s >= start_s) & (s < end_s))
        return np.flatnonzero(inside).tolist()


def _strings(xs: list[str]) -> np.ndarray:
    return np.asarray(xs, dtype=str) if xs else np.zeros(0, dtype="<U1")


def _texts(a: np.ndarray) -> list[str]:
    return [str(t) for t in a]


@dataclass(frozen=True)
class Segment:
    """The clips of one file content, in time order: row ``i`` of every field is clip ``i``."""

    vectors: np.ndarray  # float32 [n, dim]
    starts_s: np.ndarray  # float64 [n]
    ends_s: np.ndarray
    texts: list[str]
    sources: list[str]  # the text sources of each clip's text ("" when it has none)
    lines: LineTable = field(default_factory=LineTable.empty)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def non_finite(self) -> int:
        """How many clips have a NaN or infinite vector component, start or end (the fields
        aligned, see :meth:`check`)."""
        ok = np.isfinite(self.vectors).all(axis=1) & np.isfinite(self.starts_s) & np.isfinite(self.ends_s)
        return int(np.count_nonzero(~ok))

    def save(self, path: Path) -> None:
        """Write the segment file atomically."""
        with atomic_write(path) as f:
            np.savez(
                f,
                vectors=np.ascontiguousarray(self.vectors, np.float32),
                starts_s=np.asarray(self.starts_s, np.float64),
                ends_s=np.asarray(self.ends_s, np.float64),
                texts=_strings(self.texts),
                sources=_strings(self.sources),
                line_starts_s=np.asarray(self.lines.starts_s, np.float64),
                line_ends_s=np.asarray(self.lines.ends_s, np.float64),
                line_texts=_strings(self.lines.texts),
                line_sources=_strings(self.lines.sources),
            )

    @staticmethod
    def load(path: Path, *, n_clips: int | None = None, dim: int | None = None) -> Segment:
        """Read a segment file and check it (``n_clips`` rows of ``dim``, when given; finite).
        FileNotFoundError when it does not exist; :class:`Problem` when it is damaged."""
        try:
            with np.load(path, allow_pickle=False) as z:
                names = set(z.files)
                texts = _texts(z["texts"])
                seg = Segment(
                    vectors=z["vectors"],
                    starts_s=z["starts_s"],
                    ends_s=z["ends_s"],
                    texts=texts,
                    # segments written before text sources existed hold subtitle text and no lines
                    sources=(
                        _texts(z["sources"])
                        if "sources" in names
                        else ["subtitles" if t else "" for t in texts]
                    ),
                    lines=(
                        LineTable(
                            np.asarray(z["line_starts_s"], np.float64),
                            np.asarray(z["line_ends_s"], np.float64),
                            _texts(z["line_texts"]),
                            _texts(z["line_sources"]),
                        )
                        if "line_texts" in names
                        else LineTable.empty()
                    ),
                )
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 - BadZipFile, EOFError, zlib.error, OSError, ValueError, KeyError...
            raise Problem(f"is truncated or not a segment file ({describe(e)})") from None
        seg.check(n_clips=n_clips, dim=dim)
        return seg

    def check(self, *, n_clips: int | None = None, dim: int | None = None) -> None:
        """:class:`Problem` unless every field has one row per clip (``n_clips`` of them, with
        vectors of ``dim``, when given) and every vector and time is finite."""
        v = self.vectors
        n = v.shape[0] if v.ndim == 2 else -1
        if (
            n < 0
            or v.dtype != np.float32
            or (dim is not None and n and v.shape[1] != dim)
            or (n_clips is not None and n != n_clips)
            or self.starts_s.shape != (n,)
            or self.ends_s.shape != (n,)
            or len(self.texts) != n
            or len(self.sources) != n
            or not self.lines.aligned()
        ):
            want = f"({n_clips}, {dim}) vectors" if n_clips is not None else "aligned arrays"
            raise Problem(
                f"holds vectors of shape {v.shape} ({v.dtype}) with {self.starts_s.shape[0]} starts and "
                f"{len(self.texts)} texts, expected {want}"
            )
        if bad := self.non_finite():
            raise Problem(f"holds non-finite (NaN or inf) vectors or times in {bad} of {n} clips")
