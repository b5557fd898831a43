"""Changes to an index, made visible one atomic snapshot at a time."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from videopipe.errors import IndexStoreError
from videopipe.retrieval.store.atomic import atomic_path, atomic_write, fsync_dir, write_json
from videopipe.retrieval.store.damage import IndexDamageError, Problem
from videopipe.retrieval.store.files import IndexFiles
from videopipe.retrieval.store.gc import collect_garbage
from videopipe.retrieval.store.records import (
    FORMAT,
    FaissMeta,
    FileEntry,
    IndexConfig,
    Manifest,
    entries_digest,
)
from videopipe.retrieval.store.segments import LineTable, Segment

if TYPE_CHECKING:
    from videopipe.retrieval.faiss_index import AutoConfig


class IndexWriter:
    """Changes to an index, made visible by :meth:`commit` (one atomic snapshot each).

    ``repairs`` lists what was damaged and how it is repaired; ``lost`` maps the path of each
    video whose segment was missing or damaged to the problem (its entry is dropped, so the
    indexer re-embeds it)."""

    def __init__(
        self,
        store: IndexFiles,
        config: IndexConfig,
        *,
        base: Manifest | None = None,
        top_version: int = 0,
        repairs: list[str] | None = None,
        stored_config: IndexConfig | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self._stored_config = stored_config or config
        if base is None:
            base = store.committed()
        self.base_version = base.version
        self.version = max(base.version, top_version)  # the next commit is above every snapshot on disk
        self._faiss = base.faiss
        self.repairs: list[str] = list(repairs or [])
        self.lost: dict[str, str] = {}
        # content key -> clip count of its checked segment (None: unusable)
        self._clips: dict[str, int | None] = {}
        self.entries: dict[str, FileEntry] = {}
        for e in base.entries:
            problem = self._segment_problem(e.key, e.n_clips) if e.n_clips else None
            if problem is None:
                self.entries[e.path] = e
                continue
            self.lost[e.path] = problem
            self.repairs.append(f"{store.rel(store.segment_path(e.key))} (the clips of {e.path}) {problem}")
        fm = self._faiss
        if fm is not None and fm.file is not None and fm.digest == entries_digest(base.entries):
            try:
                store.load_faiss(fm, sum(e.n_clips for e in base.entries), device="cpu")
            except IndexDamageError as e:
                self.repairs.append(f"{e.file} {e.problem}: rebuilt")
                self._faiss = None
        self._dirty = bool(self.repairs)  # a repaired index is committed even when nothing else changes

    def _segment_problem(self, key: str, n_clips: int | None = None) -> str | None:
        """None when the segment of ``key`` is readable (and holds ``n_clips`` rows), else what is wrong."""
        try:
            seg = Segment.load(self.store.segment_path(key), n_clips=n_clips, dim=self.config.dim)
        except FileNotFoundError:
            self._clips[key] = None
            return "is missing"
        except Problem as p:
            self._clips[key] = None
            return str(p)
        self._clips[key] = len(seg)
        return None

    def has_segment(self, key: str) -> bool:
        """True when a readable segment for this content exists (a damaged one does not count)."""
        if key not in self._clips:
            self._segment_problem(key)
        return self._clips[key] is not None

    def segment_keys(self) -> frozenset[str]:
        """Content keys of the readable segments on disk: the committed ones and those a
        killed run wrote before it could commit them."""
        try:
            names = os.listdir(self.store.directory / "segments")
        except OSError:
            return frozenset()
        return frozenset(n[:-4] for n in names if n.endswith(".npz") and self.has_segment(n[:-4]))

    def write_segment(
        self,
        key: str,
        starts_s: np.ndarray,
        ends_s: np.ndarray,
        texts: list[str],
        vectors: np.ndarray,
        *,
        sources: list[str] | None = None,
        lines: LineTable | None = None,
    ) -> None:
        v = np.asarray(vectors, np.float32)
        if v.ndim != 2 or (v.shape[0] and v.shape[1] != self.config.dim):
            raise IndexStoreError(
                f"embedder returned vectors of shape {v.shape}; index {self.store.directory} holds dim {self.config.dim}"
            )
        seg = Segment(
            vectors=v.reshape(v.shape[0], self.config.dim),
            starts_s=np.asarray(starts_s, np.float64),
            ends_s=np.asarray(ends_s, np.float64),
            texts=list(texts),
            sources=list(sources) if sources is not None else [""] * len(texts),
            lines=lines if lines is not None else LineTable.empty(),
        )
        if bad := seg.non_finite():
            raise IndexStoreError(
                f"embedder returned non-finite (NaN or inf) vectors in {bad} of {len(seg)} clips; an index "
                "keeps finite vectors only (a bug in the embedder or its model)"
            )
        seg.save(self.store.segment_path(key))
        self._clips[key] = len(seg)

    def segment_clip_count(self, key: str) -> int:
        if not self.has_segment(key):
            raise IndexStoreError(f"index {self.store.directory}: no readable segment for content {key}")
        return int(self._clips[key] or 0)

    def put(self, entry: FileEntry) -> None:
        if self.entries.get(entry.path) != entry:
            self.entries[entry.path] = entry
            self._dirty = True

    def remove(self, path: str) -> None:
        if self.entries.pop(path, None) is not None:
            self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def sorted_entries(self) -> list[FileEntry]:
        return [self.entries[p] for p in sorted(self.entries)]

    def commit(self, *, faiss: FaissMeta | None = None) -> int:
        """Write a new snapshot of the current entries and point CURRENT at it."""
        version = self.version + 1
        entries = self.sorted_entries()
        if faiss is None and self._faiss is not None and self._faiss.digest == entries_digest(entries):
            faiss = self._faiss  # unchanged vectors keep their index
        manifest = {
            "format": FORMAT,
            "version": version,
            "created_unix_s": time.time(),
            "config": asdict(self._stored_config),  # a copy, so that a lost config can be restored
            "entries": [asdict(e) for e in entries],
            "faiss": asdict(faiss) if faiss else None,
        }
        write_json(self.store.snapshot_path(version), manifest)
        with atomic_write(self.store.current_path) as f:
            f.write(f"{version}\n".encode())
        fsync_dir(self.store.directory)
        self.version = version
        self._faiss = faiss
        self._dirty = False
        return version

    def build_index(self, kind: str = "auto", *, auto: AutoConfig | None = None) -> FaissMeta:
        """Build the FAISS index for the current entries and commit it, with what it measured
        (``auto``: chosen by a recall target measured on these vectors, see ``faiss_index``).
        It is built and measured on the CPU (searches move it to a GPU when there is one)."""
        from videopipe.retrieval.faiss_index import build_index

        entries = self.sorted_entries()
        digest = entries_digest(entries)
        if self._faiss is not None and self._faiss.digest == digest and kind in ("auto", self._faiss.kind):
            if self._dirty:
                self.commit(faiss=self._faiss)
            return self._faiss
        vectors = np.concatenate(
            [self._vectors(e) for e in entries if e.n_clips] or [np.zeros((0, self.config.dim), np.float32)]
        )
        t = time.perf_counter()
        vi = build_index(vectors, kind, device="cpu", auto=auto)
        m = vi.measured
        measured = dict(
            params=dict(vi.params),
            recall_at_10=m.recall_at_10 if m else None,
            ms_per_query=m.ms_per_query if m else None,
            target_recall=vi.target_recall,
            sample_queries=vi.sample_queries,
            build_s=round(time.perf_counter() - t, 2),
        )
        rel = None if vi.kind == "flat" else f"faiss/{digest}-{vi.kind}.faiss"
        if rel is not None:
            # faiss reports a failed write as RuntimeError
            with atomic_path(self.store.directory / rel, also=(RuntimeError,)) as tmp:
                vi.save(tmp)
        meta = FaissMeta(kind=vi.kind, digest=digest, file=rel, **measured)
        self.commit(faiss=meta)
        return meta

    def _vectors(self, e: FileEntry) -> np.ndarray:
        path = self.store.segment_path(e.key)
        try:
            return Segment.load(path).vectors
        except Problem as p:
            raise IndexStoreError(f"index segment {path} {p}") from None

    def garbage_collect(self) -> int:
        """Delete snapshots older than the newest ``KEEP_SNAPSHOTS``, damaged snapshots, files
        none of the kept ones reference, and temporary files of crashed writers. Returns files
        removed."""
        return collect_garbage(self.store, self.version)
