"""The on-disk retrieval index: immutable files plus one pointer, so that every write is atomic.

Layout of an index directory::

    videopipe-index.json      format + IndexConfig (embedder, space, dim, segmentation); written once
    CURRENT                   the committed snapshot version ("17"), replaced atomically
    snapshots/00000017.json   one snapshot: every indexed file (path, size, mtime, content key,
                              clip count) in path order, and the FAISS index built for it (if any)
    segments/<key>.npz        the clips of one file content: vectors [n, dim], start/end, text
    faiss/<digest>-<kind>.faiss   an approximate index over a snapshot's vectors, in entry order
    write.lock                writers hold this file lock

Every file except ``CURRENT`` is written once under a temporary name, fsynced, and renamed
into place; ``CURRENT`` is replaced the same way *after* everything it points to exists. A
crash at any point leaves the previous snapshot intact (at worst a few unreferenced files,
removed by the next garbage collection).

Readers never lock: they read ``CURRENT``, then that snapshot's files, all immutable. A writer
keeps the newest ``KEEP_SNAPSHOTS`` snapshots and their files, so a reader that has just read
``CURRENT`` can still load it; if a file vanished anyway (a very slow reader), the reader starts
over from the new ``CURRENT``.

Incremental indexing keys clip vectors by *content* (``segments/<key>.npz``, key = sha1 of the
video's bytes plus its subtitle sidecar's bytes): a re-added, moved or copied file with known
content is never re-embedded, and a killed indexing run leaves its finished files' segments
behind, to be picked up on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import IndexStoreError

FORMAT = 1
CONFIG_NAME = "videopipe-index.json"
KEEP_SNAPSHOTS = 3
_TMP_MARK = ".tmp-"


# ----------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexConfig:
    """What every vector of an index was made with; fixed when the index is created."""

    embedder: str  # registry name (or "module:attr") used to build the index
    space: str  # the embedder's space: queries must be embedded in the same one
    dim: int
    segmentation: str  # e.g. "fixed:w20:o5"
    window_s: float
    overlap_s: float
    frames_per_clip: int = 4
    embedder_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"model_id": ...}
    captioner: str = ""  # name of the captioning hook whose captions joined the clip texts

    @staticmethod
    def from_dict(d: dict[str, Any]) -> IndexConfig:
        return IndexConfig(**d)


@dataclass(frozen=True)
class FileEntry:
    """One indexed video file.

    ``size``/``mtime_ns`` (and the sidecar's) are the fast path: unchanged stat means unchanged
    file, no reading. ``key`` identifies the content (see :func:`content_key`)."""

    path: str
    size: int
    mtime_ns: int
    key: str
    n_clips: int
    sidecar: str | None = None
    sidecar_size: int = 0
    sidecar_mtime_ns: int = 0

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FileEntry:
        return FileEntry(**d)


@dataclass(frozen=True)
class FaissMeta:
    kind: str
    digest: str  # digest of the entries (content keys and clip counts, in order) it was built on
    file: str | None  # relative path; None for "flat" (rebuilt from the vectors on load)


def video_path(path: str | Path) -> Path:
    """The absolute, normalised path an index records for a video. Symlinks are *not*
    resolved: a link is indexed under its own name, next to its own subtitle sidecar."""
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def content_key(video: Path, sidecar: Path | None = None, *, chunk_bytes: int = 1 << 20) -> str:
    """sha1 over the video's bytes and (if any) its subtitle sidecar's bytes."""
    h = hashlib.sha1()
    for p in (video, sidecar):
        if p is None:
            continue
        h.update(f"{p.suffix.lower()}:{p.stat().st_size}:".encode())
        with open(p, "rb") as f:
            while chunk := f.read(chunk_bytes):
                h.update(chunk)
    return h.hexdigest()


def entries_digest(entries: list[FileEntry] | tuple[FileEntry, ...]) -> str:
    h = hashlib.sha1()
    for e in entries:
        h.update(f"{e.key}:{e.n_clips}\n".encode())
    return h.hexdigest()[:20]


# ----------------------------------------------------------------------------------------
# Atomic file writes
# ----------------------------------------------------------------------------------------
def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: Path) -> Iterator[Any]:
    """Open a temporary file next to ``path`` for binary writing; on success fsync it and
    rename it over ``path``; on failure remove it."""
    tmp = path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


# ----------------------------------------------------------------------------------------
# A loaded snapshot (what readers search)
# ----------------------------------------------------------------------------------------
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
        an exact flat index over the vectors (always correct, built in memory)."""
        if self._vector_index is None:
            from videopipe.retrieval.faiss_index import build_index, load_index

            meta = self.faiss
            if meta is not None and meta.digest == self.digest and meta.file is not None:
                vi = load_index(self.directory / meta.file, meta.kind, device=device)
                if vi.ntotal != len(self):
                    raise IndexStoreError(
                        f"index {self.directory}: FAISS file {meta.file} holds {vi.ntotal} vectors, "
                        f"the snapshot {len(self)}; rebuild with `videopipe index --rebuild`"
                    )
                self._vector_index = vi
            else:
                self._vector_index = build_index(self.vectors, "flat", device=device)
        return self._vector_index


# ----------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------
class IndexStore:
    """An index directory (see the module docstring for the layout and guarantees)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser().resolve()

    def __repr__(self) -> str:
        return f"IndexStore({str(self.directory)!r})"

    # -- paths ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME

    def _snapshot_path(self, version: int) -> Path:
        return self.directory / "snapshots" / f"{version:08d}.json"

    def segment_path(self, key: str) -> Path:
        return self.directory / "segments" / f"{key}.npz"

    # -- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.config_path.is_file()

    def require(self) -> None:
        if not self.directory.is_dir():
            raise IndexStoreError(
                f"index directory {self.directory} does not exist; build it with `videopipe index PATH --index {self.directory}`"
            )
        if not self.exists():
            raise IndexStoreError(
                f"{self.directory} is not a videopipe index (no {CONFIG_NAME}); build one with `videopipe index`"
            )

    def config(self) -> IndexConfig:
        self.require()
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise IndexStoreError(
                    f"index {self.directory} has format {data.get('format')}, this videopipe reads {FORMAT}; rebuild it"
                )
            return IndexConfig.from_dict(data["config"])
        except (ValueError, KeyError, TypeError) as e:
            raise IndexStoreError(
                f"index {self.directory}: {CONFIG_NAME} is corrupt ({e}); rebuild the index"
            ) from None

    def current_version(self) -> int:
        """The committed snapshot version (0: nothing committed yet)."""
        try:
            return int((self.directory / "CURRENT").read_text().strip())
        except FileNotFoundError:
            return 0
        except ValueError:
            raise IndexStoreError(f"index {self.directory}: CURRENT is corrupt; rebuild the index") from None

    def _read_manifest(self, version: int) -> tuple[list[FileEntry], FaissMeta | None]:
        if version == 0:
            return [], None
        data = json.loads(self._snapshot_path(version).read_text(encoding="utf-8"))
        entries = [FileEntry.from_dict(e) for e in data["entries"]]
        fm = data.get("faiss")
        return entries, (FaissMeta(**fm) if fm else None)

    def read_entries(self) -> list[FileEntry]:
        """The files of the committed snapshot (metadata only, no vectors)."""
        for _ in range(20):
            try:
                return self._read_manifest(self.current_version())[0]
            except FileNotFoundError:
                time.sleep(0.05)
        raise IndexStoreError(
            f"index {self.directory}: the current snapshot keeps vanishing; is a writer broken?"
        )

    def open_snapshot(self, *, retries: int = 20) -> Snapshot:
        """Load the committed snapshot (vectors and metadata) into memory."""
        cfg = self.config()
        for _ in range(retries):
            version = self.current_version()
            try:
                return self._load(version, cfg)
            except FileNotFoundError:  # GC'd under a very slow reader: start over
                time.sleep(0.05)
        raise IndexStoreError(f"index {self.directory}: could not read a consistent snapshot; retry")

    def _load(self, version: int, cfg: IndexConfig) -> Snapshot:
        entries, fm = self._read_manifest(version)
        vecs, starts, ends, texts, owner = [], [], [], [], []
        for i, e in enumerate(entries):
            if e.n_clips == 0:
                continue
            seg = load_segment(self.segment_path(e.key))
            if seg["vectors"].shape != (e.n_clips, cfg.dim):
                raise IndexStoreError(
                    f"index {self.directory}: segment {e.key} has shape {seg['vectors'].shape}, "
                    f"expected ({e.n_clips}, {cfg.dim}); rebuild the index"
                )
            vecs.append(seg["vectors"])
            starts.append(seg["starts_s"])
            ends.append(seg["ends_s"])
            texts.extend(seg["texts"])
            owner.append(np.full(e.n_clips, i, np.int64))
        return Snapshot(
            directory=self.directory,
            version=version,
            config=cfg,
            entries=tuple(entries),
            vectors=np.concatenate(vecs) if vecs else np.zeros((0, cfg.dim), np.float32),
            starts_s=np.concatenate(starts) if starts else np.zeros(0),
            ends_s=np.concatenate(ends) if ends else np.zeros(0),
            texts=texts,
            entry_of_row=np.concatenate(owner) if owner else np.zeros(0, np.int64),
            faiss=fm,
        )

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writer(self, config: IndexConfig, *, lock_timeout_s: float = 30.0) -> Iterator[IndexWriter]:
        """Take the write lock and yield an :class:`IndexWriter` (creating the index with
        ``config`` if the directory is new; an existing index must have the same config)."""
        from filelock import FileLock, Timeout

        known = {CONFIG_NAME, "CURRENT", "snapshots", "segments", "faiss", "write.lock"}
        if self.directory.is_dir() and not self.exists():
            strangers = sorted(p.name for p in self.directory.iterdir() if p.name not in known)
            if strangers:
                raise IndexStoreError(
                    f"{self.directory} is not empty and not a videopipe index (it holds {strangers[0]!r}, ...); "
                    "give --index a new or empty directory"
                )
        self.directory.mkdir(parents=True, exist_ok=True)
        for sub in ("snapshots", "segments", "faiss"):
            (self.directory / sub).mkdir(exist_ok=True)
        lock = FileLock(str(self.directory / "write.lock"))
        try:
            lock.acquire(timeout=lock_timeout_s)
        except Timeout:
            raise IndexStoreError(
                f"index {self.directory} is being written by another process (write.lock held for "
                f"{lock_timeout_s:g} s); wait for it to finish"
            ) from None
        try:
            if self.exists():
                check_same_config(self.config(), config, self.directory)
            else:
                _write_json(self.config_path, {"format": FORMAT, "config": asdict(config)})
            yield IndexWriter(self, config)
        finally:
            lock.release()


def check_same_config(have: IndexConfig, want: IndexConfig, where: Path) -> None:
    if have.space != want.space or have.dim != want.dim:
        raise IndexStoreError(
            f"index {where} holds vectors of space {have.space!r} (embedder {have.embedder!r}); "
            f"embedder {want.embedder!r} makes {want.space!r}. Spaces cannot be mixed: use the same "
            "embedder or another --index directory"
        )
    if have.captioner != want.captioner:
        raise IndexStoreError(
            f"index {where} was built with captioner {have.captioner or '(none)'!r}, not "
            f"{want.captioner or '(none)'!r}; use the same captioner or another --index directory"
        )
    if have.segmentation != want.segmentation or have.frames_per_clip != want.frames_per_clip:
        raise IndexStoreError(
            f"index {where} was built with segmentation {have.segmentation} and {have.frames_per_clip} "
            f"frames per clip, not {want.segmentation} / {want.frames_per_clip}; use the same options "
            "or another --index directory"
        )


def save_segment(
    path: Path, starts_s: np.ndarray, ends_s: np.ndarray, texts: list[str], vectors: np.ndarray
) -> None:
    with atomic_write(path) as f:
        np.savez(
            f,
            vectors=np.ascontiguousarray(vectors, np.float32),
            starts_s=np.asarray(starts_s, np.float64),
            ends_s=np.asarray(ends_s, np.float64),
            texts=np.asarray(texts, dtype=str) if texts else np.zeros(0, dtype="<U1"),
        )


def load_segment(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {
                "vectors": z["vectors"],
                "starts_s": z["starts_s"],
                "ends_s": z["ends_s"],
                "texts": [str(t) for t in z["texts"]],
            }
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise IndexStoreError(f"index segment {path} is corrupt ({e}); rebuild the index") from None


class IndexWriter:
    """Changes to an index, made visible by :meth:`commit` (one atomic snapshot each)."""

    def __init__(self, store: IndexStore, config: IndexConfig) -> None:
        self.store = store
        self.config = config
        self.base_version = store.current_version()
        entries, self._faiss = store._read_manifest(self.base_version)
        self.entries: dict[str, FileEntry] = {e.path: e for e in entries}
        self.version = self.base_version
        self._dirty = False

    def has_segment(self, key: str) -> bool:
        return self.store.segment_path(key).is_file()

    def write_segment(
        self, key: str, starts_s: np.ndarray, ends_s: np.ndarray, texts: list[str], vectors: np.ndarray
    ) -> None:
        v = np.asarray(vectors, np.float32)
        if v.ndim != 2 or (v.shape[0] and v.shape[1] != self.config.dim):
            raise IndexStoreError(
                f"embedder returned vectors of shape {v.shape}; index {self.store.directory} holds dim {self.config.dim}"
            )
        save_segment(
            self.store.segment_path(key), starts_s, ends_s, texts, v.reshape(v.shape[0], self.config.dim)
        )

    def segment_clip_count(self, key: str) -> int:
        return int(load_segment(self.store.segment_path(key))["vectors"].shape[0])

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
            "entries": [asdict(e) for e in entries],
            "faiss": asdict(faiss) if faiss else None,
        }
        _write_json(self.store._snapshot_path(version), manifest)
        with atomic_write(self.store.directory / "CURRENT") as f:
            f.write(f"{version}\n".encode())
        _fsync_dir(self.store.directory)
        self.version = version
        self._faiss = faiss
        self._dirty = False
        return version

    def build_index(self, kind: str = "auto", *, device: str = "auto") -> FaissMeta:
        """Build the FAISS index for the current entries (``auto``: by size) and commit it."""
        from videopipe.retrieval.faiss_index import build_index, choose_index_type

        entries = self.sorted_entries()
        digest = entries_digest(entries)
        if self._faiss is not None and self._faiss.digest == digest and kind in ("auto", self._faiss.kind):
            if self._dirty:
                self.commit(faiss=self._faiss)
            return self._faiss
        n = sum(e.n_clips for e in entries)
        kind = choose_index_type(n) if kind == "auto" else kind
        meta = FaissMeta(kind=kind, digest=digest, file=None)
        if kind != "flat":
            vectors = np.concatenate(
                [load_segment(self.store.segment_path(e.key))["vectors"] for e in entries if e.n_clips]
                or [np.zeros((0, self.config.dim), np.float32)]
            )
            rel = f"faiss/{digest}-{kind}.faiss"
            vi = build_index(vectors, kind, device=device)
            target = self.store.directory / rel
            tmp = target.with_name(f"{target.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                vi.save(tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            meta = FaissMeta(kind=kind, digest=digest, file=rel)
        self.commit(faiss=meta)
        return meta

    def garbage_collect(self) -> int:
        """Delete snapshots older than the newest ``KEEP_SNAPSHOTS``, files none of the kept
        ones reference, and temporary files of crashed writers. Returns files removed."""
        d = self.store.directory
        keep_versions = set(range(max(1, self.version - KEEP_SNAPSHOTS + 1), self.version + 1))
        referenced: set[str] = set()
        for v in keep_versions:
            try:
                entries, fm = self.store._read_manifest(v)
            except FileNotFoundError:
                continue
            referenced.update(f"segments/{e.key}.npz" for e in entries)
            if fm is not None and fm.file:
                referenced.add(fm.file)
        removed = 0
        for p in (d / "snapshots").iterdir():
            stem = p.name.split(".")[0]
            if _TMP_MARK in p.name or (stem.isdigit() and int(stem) not in keep_versions):
                p.unlink(missing_ok=True)
                removed += 1
        for sub in ("segments", "faiss"):
            for p in (d / sub).iterdir():
                if f"{sub}/{p.name}" not in referenced:
                    p.unlink(missing_ok=True)
                    removed += 1
        for p in d.iterdir():
            if _TMP_MARK in p.name:
                p.unlink(missing_ok=True)
                removed += 1
        return removed
