"""A loaded snapshot: one committed version of the index in memory, what readers search."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.retrieval.store.damage import Problem, Vanished
from videopipe.retrieval.store.files import IndexFiles
from videopipe.retrieval.store.records import (
    FaissMeta,
    FileEntry,
    IndexConfig,
    Manifest,
    entries_digest,
    video_path,
)
from videopipe.retrieval.store.segments import LineTable, Segment


@dataclass
class Snapshot:
    """A consistent, in-memory view of one committed version of the index."""

    directory: Path
    version: int
    config: IndexConfig
    entries: tuple[FileEntry, ...]
    vectors: np.ndarray  # float32 [N, dim], rows in entry order
    starts_s: np.ndarray  # float64 [N]
    ends_s: np.ndarray
    texts: list[str]
    entry_of_row: np.ndarray  # int64 [N] -> index into entries
    faiss: FaissMeta | None
    sources: list[str] = field(default_factory=list)  # per row: the sources of its text
    lines: dict[str, LineTable] = field(default_factory=dict)  # video path -> its text lines
    _vector_index: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def digest(self) -> str:
        return entries_digest(self.entries)

    def video_of_row(self, row: int) -> str:
        return self.entries[int(self.entry_of_row[row])].path

    def rows_of(self, video: str | Path) -> np.ndarray:
        """Row numbers of the clips of ``video`` (an indexed path)."""
        target = str(video_path(video))
        idx = [i for i, e in enumerate(self.entries) if e.path == target]
        if not idx:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.entry_of_row == idx[0])

    def vector_index(self, *, device: str = "auto") -> Any:
        """The FAISS index for this snapshot: the one built for it when its digest matches, else
        an exact flat index over the vectors (always correct, built in memory). A FAISS file
        that cannot be read, or holds another number of vectors, is an :class:`IndexDamageError`."""
        if self._vector_index is None:
            from videopipe.retrieval.faiss_index import exact_index

            meta = self.faiss
            if meta is not None and meta.digest == self.digest and meta.file is not None:
                files = IndexFiles(self.directory)
                if not (self.directory / meta.file).is_file() and files.current_version() != self.version:
                    # collected after a newer commit (a long-lived reader): exact search instead
                    self._vector_index = exact_index(self.vectors, device=device)
                else:
                    self._vector_index = files.load_faiss(meta, len(self), device=device)
            elif meta is not None and meta.digest == self.digest:  # auto chose exact search
                self._vector_index = exact_index(self.vectors, params=meta.params, device=device)
            else:  # an intermediate commit: searched exactly, in memory
                self._vector_index = exact_index(self.vectors, device=device)
        return self._vector_index

    def index_info(self, *, device: str = "auto") -> dict[str, Any]:
        """What answers this snapshot's searches: ``{"kind", "params", "recall_at_10",
        "ms_per_query", "device"}``, as recorded when the index was built (exact search over
        vectors committed before their index was built: recall 1, latency not measured)."""
        vi = self.vector_index(device=device)
        meta = self.faiss
        if meta is not None and meta.digest == self.digest and meta.kind == vi.kind:
            info = meta.describe()
        else:
            info = {"kind": vi.kind, "params": dict(vi.params), "recall_at_10": 1.0, "ms_per_query": None}
        return {**info, "device": vi.device}


def load_snapshot(files: IndexFiles, m: Manifest, cfg: IndexConfig) -> Snapshot:
    """The vectors and texts of every entry of ``m``. :class:`Vanished` when a segment is
    missing (the caller decides: a race or damage); damage when one cannot be read."""
    segments: list[Segment] = []
    owner: list[np.ndarray] = []
    lines: dict[str, LineTable] = {}
    for i, e in enumerate(m.entries):
        if e.n_clips == 0:
            continue
        path = files.segment_path(e.key)
        try:
            seg = Segment.load(path, n_clips=e.n_clips, dim=cfg.dim)
        except FileNotFoundError:
            raise Vanished(files.rel(path), f"the clips of {e.path}") from None
        except Problem as p:
            raise files.damage(files.rel(path), f"(the clips of {e.path}) {p}") from None
        segments.append(seg)
        if len(seg.lines):
            lines[e.path] = seg.lines
        owner.append(np.full(e.n_clips, i, np.int64))
    return Snapshot(
        directory=files.directory,
        version=m.version,
        config=cfg,
        entries=tuple(m.entries),
        vectors=np.concatenate([s.vectors for s in segments] or [np.zeros((0, cfg.dim), np.float32)]),
        starts_s=np.concatenate([s.starts_s for s in segments] or [np.zeros(0)]),
        ends_s=np.concatenate([s.ends_s for s in segments] or [np.zeros(0)]),
        texts=[t for s in segments for t in s.texts],
        entry_of_row=np.concatenate(owner or [np.zeros(0, np.int64)]),
        faiss=m.faiss,
        sources=[t for s in segments for t in s.sources],
        lines=lines,
    )
