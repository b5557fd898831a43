"""The on-disk retrieval index: immutable files plus one pointer, so that every write is atomic.

Layout of an index directory::

    videopipe-index.json      format + IndexConfig (embedder, space, dim, segmentation); written once
    CURRENT                   the committed snapshot version ("17"), replaced atomically
    snapshots/00000017.json   one snapshot: every indexed file (path, size, mtime, content key,
                              clip count) in path order, the FAISS index built for it (if any)
                              and a copy of the config (to restore a lost one)
    segments/<key>.npz        the clips of one file content: vectors [n, dim], start/end, text,
                              the text's sources, and the video's text lines (to name the line
                              that matched a query)
    faiss/<digest>-<kind>.faiss   an approximate index over a snapshot's vectors, in entry order
    write.lock                writers hold this file lock

Every file except ``CURRENT`` is written once under a temporary name, fsynced, and renamed
into place; ``CURRENT`` is replaced the same way *after* everything it points to exists. A
crash at any point leaves the previous snapshot intact (at worst a few unreferenced files,
removed by the next garbage collection).

Readers never lock: they read ``CURRENT``, then that snapshot's files, all immutable. A writer
keeps the newest ``KEEP_SNAPSHOTS`` snapshots and their files, so a reader that has just read
``CURRENT`` can still load it; if a file vanished anyway (a very slow reader), the reader starts
over from the new ``CURRENT``. A file that is missing while ``CURRENT`` still names the snapshot
that needs it, or any file that cannot be parsed, is *damage* (a writer never exposes a partial
file): readers raise :class:`IndexDamageError` naming the file, and the next writer repairs it
(see :meth:`IndexStore.writer`): it falls back to the newest readable snapshot, drops the entries
whose segment is lost (the indexer re-embeds their videos) and restores the config from the
copy every snapshot carries.

Incremental indexing keys clip vectors by *content* (``segments/<key>.npz``, key = sha1 of the
video's bytes plus its subtitle sidecar's bytes): a re-added, moved or copied file with known
content is never re-embedded, and a killed indexing run leaves its finished files' segments
behind, to be picked up on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from videopipe.errors import IndexStoreError

if TYPE_CHECKING:
    from videopipe.retrieval.faiss_index import AutoConfig

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
    # the text sources clip texts come from and what made them (videopipe.text.sources.text_key);
    # an index written before text sources existed indexed subtitles only
    text: str = "subtitles"
    text_key: str = "subtitles"
    asr_model: str = ""  # the --asr-model given ("" = the bundled default)

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
    """The FAISS index a snapshot was built with. The fields after ``file`` record what ``auto``
    chose and measured at build time (None in snapshots written before it measured)."""

    kind: str
    digest: str  # digest of the entries (content keys and clip counts, in order) it was built on
    file: str | None  # relative path; None for "flat" (rebuilt from the vectors on load)
    params: dict[str, int] | None = None  # e.g. {"nlist": 2048, "nprobe": 24, "threads": 1}
    recall_at_10: float | None = None  # against exact search, stored vectors as queries
    ms_per_query: float | None = None  # one query at a time, median
    target_recall: float | None = None
    sample_queries: int | None = None
    build_s: float | None = None

    def describe(self) -> dict[str, Any]:
        """``{"kind", "params", "recall_at_10", "ms_per_query"}`` for reports."""
        return {
            "kind": self.kind,
            "params": dict(self.params or {}),
            "recall_at_10": self.recall_at_10,
            "ms_per_query": self.ms_per_query,
        }


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
# Damage: what is wrong with a file of an index directory
# ----------------------------------------------------------------------------------------
class IndexDamageError(IndexStoreError):
    """A file of an index directory is missing or cannot be read (truncated, not JSON, wrong
    shape, ...). ``videopipe index`` run again on the same folder repairs it (see
    :meth:`IndexStore.writer`). ``file`` is relative to ``directory``."""

    def __init__(self, directory: Path, file: str, problem: str, fix: str) -> None:
        self.directory = directory
        self.file = file
        self.problem = problem
        super().__init__(f"index {directory} is damaged: {file} {problem}; {fix}")


class _Problem(Exception):
    """What is wrong with one file; the store turns it into an :class:`IndexDamageError`."""


class _Vanished(Exception):
    """A file a snapshot needs is missing: a race with a writer's garbage collection, or damage."""

    def __init__(self, file: str, what: str) -> None:
        super().__init__(file)
        self.file, self.what = file, what


def _describe(e: BaseException) -> str:
    """``Type: message`` on one line (what a wrapped exception said)."""
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


@dataclass(frozen=True)
class Manifest:
    """One snapshot file, parsed and checked."""

    version: int
    entries: list[FileEntry]
    faiss: FaissMeta | None
    config: IndexConfig | None  # the copy of the index config (None in snapshots written before it)


_NONE = type(None)
_CONFIG_TYPES: dict[str, Any] = {
    "embedder": str,
    "space": str,
    "dim": int,
    "segmentation": str,
    "window_s": (int, float),
    "overlap_s": (int, float),
    "frames_per_clip": int,
    "embedder_options": dict,
    "captioner": str,
}
_ENTRY_TYPES: dict[str, Any] = {
    "path": str,
    "size": int,
    "mtime_ns": int,
    "key": str,
    "n_clips": int,
    "sidecar": (str, _NONE),
    "sidecar_size": int,
    "sidecar_mtime_ns": int,
}
_NUMBER = (int, float, _NONE)
_FAISS_TYPES: dict[str, Any] = {  # the measured fields are None in older snapshots
    **{
        "kind": str,
        "digest": str,
        "file": (str, _NONE),
        "params": (dict, _NONE),
        "sample_queries": (int, _NONE),
    },
    **dict.fromkeys(("recall_at_10", "ms_per_query", "target_recall", "build_s"), _NUMBER),
}
_HEX = frozenset("0123456789abcdef")


def _typed(cls: Any, data: Any, types: dict[str, Any], what: str) -> Any:
    """``cls(**data)`` with every field of the type ``types`` gives, else :class:`_Problem`."""
    if not isinstance(data, dict):
        raise _Problem(f"has {what} that is not a JSON object ({type(data).__name__})")
    try:
        obj = cls(**data)
    except TypeError as e:
        raise _Problem(f"has a malformed {what} ({e})") from None
    for name, t in types.items():
        v = getattr(obj, name)
        if isinstance(v, bool) or not isinstance(v, t):
            raise _Problem(f"has a malformed {what} ({name} = {str(v)[:60]!r})")
    return obj


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _Problem(f"is not valid JSON, truncated? ({_describe(e)})") from None


#: what ``embedder_options`` may hold (:func:`videopipe.retrieval.resolve.embedder_options`
#: records these, as strings): a config is data, it never passes anything else to a constructor
RECORDED_EMBEDDER_OPTIONS = frozenset({"model_id"})


def _parse_config(data: Any) -> IndexConfig:
    cfg = _typed(IndexConfig, data, _CONFIG_TYPES, "config")
    if cfg.dim < 1:
        raise _Problem(f"has a malformed config (dim = {cfg.dim})")
    opts = cfg.embedder_options
    if set(opts) - RECORDED_EMBEDDER_OPTIONS or not all(isinstance(v, str) for v in opts.values()):
        raise _Problem(
            f"has a malformed config (embedder_options = {str(opts)[:60]!r}; only a string "
            f"{', '.join(sorted(RECORDED_EMBEDDER_OPTIONS))} is recorded)"
        )
    return cfg


def _parse_entry(data: Any) -> FileEntry:
    e = _typed(FileEntry, data, _ENTRY_TYPES, "file entry")
    if len(e.key) != 40 or not set(e.key) <= _HEX or e.n_clips < 0:
        raise _Problem(f"has a malformed file entry for {e.path} (key {e.key[:48]!r}, {e.n_clips} clips)")
    return e


def _parse_manifest(raw: bytes, version: int) -> Manifest:
    data = _json(raw)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise _Problem("is not a snapshot manifest (no list of 'entries')")
    if data.get("format") != FORMAT or data.get("version", version) != version:
        raise _Problem(f"is not snapshot {version} of format {FORMAT} (format {data.get('format')!r})")
    entries = [_parse_entry(e) for e in data["entries"]]
    fm = data.get("faiss")
    faiss = _typed(FaissMeta, fm, _FAISS_TYPES, "FAISS record") if fm is not None else None
    cfg = data.get("config")
    return Manifest(
        version=version,
        entries=entries,
        faiss=faiss,
        config=_parse_config(cfg) if cfg is not None else None,
    )


def _covering_dirs(paths: list[str]) -> list[str]:
    """The folders holding ``paths``, without the subfolders of another one of them."""
    out: list[str] = []
    for d in sorted({str(Path(p).parent) for p in paths}):
        if not any(Path(d).is_relative_to(o) for o in out):
            out.append(d)
    return out


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


class IndexWriteError(IndexStoreError, OSError):
    """A file of an index could not be written (disk full, no permission, ...)."""


@contextmanager
def atomic_write(path: Path) -> Iterator[Any]:
    """Open a temporary file next to ``path`` for binary writing; on success fsync it and
    rename it over ``path``; on failure remove it (an OSError becomes an :class:`IndexWriteError`
    naming ``path``; the previous version of the file is intact)."""
    tmp = path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, IndexStoreError):
            raise
        raise IndexWriteError(
            f"cannot write {path} ({_describe(e)}); the index keeps its last commit: fix the cause "
            "and run `videopipe index` again",
        ) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))


# ----------------------------------------------------------------------------------------
# A loaded snapshot (what readers search)
# ----------------------------------------------------------------------------------------
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

    def overlapping(self, start_s: float, end_s: float) -> list[int]:
        """Indices of the lines that overlap [start_s, end_s) (a zero-length line counts when
        its instant lies inside), in time order."""
        s, e = self.starts_s, self.ends_s
        inside = ((s < end_s) & (e > start_s)) | ((s == e) & (s >= start_s) & (s < end_s))
        return np.flatnonzero(inside).tolist()


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
                store = IndexStore(self.directory)
                if not (self.directory / meta.file).is_file() and store.current_version() != self.version:
                    # collected after a newer commit (a long-lived reader): exact search instead
                    self._vector_index = exact_index(self.vectors, device=device)
                else:
                    self._vector_index = store.load_faiss(meta, len(self), device=device)
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

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.directory).as_posix()

    def snapshot_versions(self) -> list[int]:
        """Versions of the snapshot files on disk (readable or not), newest first."""
        try:
            names = os.listdir(self.directory / "snapshots")
        except OSError:
            return []
        return sorted((int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()), reverse=True)

    def _segment_count(self) -> int:
        try:
            return sum(n.endswith(".npz") for n in os.listdir(self.directory / "segments"))
        except OSError:
            return 0

    def _has_content(self) -> bool:
        """Anything an index writes besides its config: CURRENT, a snapshot or a segment."""
        return (
            (self.directory / "CURRENT").exists()
            or bool(self.snapshot_versions())
            or bool(self._segment_count())
        )

    # -- damage --------------------------------------------------------------------------
    def repair_command(self) -> str:
        """``videopipe index FOLDERS --index DIR``: the run that repairs this index (FOLDERS: the
        folders of the videos of its newest readable snapshot, or PATH... when unknown)."""
        dirs: list[str] = []
        for v in self.snapshot_versions():
            try:
                dirs = _covering_dirs([e.path for e in self._manifest(v).entries])
                break
            except (OSError, _Problem):
                continue
        what = " ".join(shlex.quote(d) for d in dirs) if 0 < len(dirs) <= 3 else "PATH..."
        return f"videopipe index {what} --index {shlex.quote(str(self.directory))}"

    def damage(self, file: str, problem: str) -> IndexDamageError:
        """The error for a damaged ``file`` (relative to the index directory), with the fix."""
        return IndexDamageError(
            self.directory, file, problem, f"run `{self.repair_command()}` on the same folder to repair it"
        )

    def _config_damage(self, problem: str) -> IndexDamageError:
        if self._config_copy() is not None:
            return self.damage(CONFIG_NAME, problem)
        return IndexDamageError(
            self.directory,
            CONFIG_NAME,
            problem,
            "no snapshot holds a copy of it, so the embedder and clip options of this index are lost: "
            "index the videos into a new --index directory",
        )

    # -- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        """True when the directory holds an index: its config, or (damaged) any other index file."""
        return self.config_path.is_file() or self._has_content()

    def require(self) -> None:
        if not self.directory.is_dir():
            raise IndexStoreError(
                f"index directory {self.directory} does not exist; build it with `videopipe index PATH --index {self.directory}`"
            )
        if not self.exists():
            raise IndexStoreError(
                f"{self.directory} is not a videopipe index (no {CONFIG_NAME}); build one with `videopipe index`"
            )

    def _read_config(self) -> IndexConfig:
        try:
            raw = self.config_path.read_bytes()
        except FileNotFoundError:
            raise _Problem("is missing") from None
        except OSError as e:
            raise _Problem(f"cannot be read ({_describe(e)})") from None
        data = _json(raw)
        if not isinstance(data, dict):
            raise _Problem(f"is not an index config (a JSON {type(data).__name__})")
        if data.get("format") != FORMAT:
            raise IndexStoreError(
                f"index {self.directory} has format {data.get('format')}, this videopipe reads {FORMAT}; rebuild it"
            )
        return _parse_config(data.get("config"))

    def config(self) -> IndexConfig:
        self.require()
        try:
            return self._read_config()
        except _Problem as p:
            raise self._config_damage(str(p)) from None

    def _config_copy(self) -> tuple[int, IndexConfig] | None:
        """(version, config) from the newest readable snapshot that holds a copy of the config."""
        for v in self.snapshot_versions():
            try:
                m = self._manifest(v)
            except (OSError, _Problem):
                continue
            if m.config is not None:
                return v, m.config
        return None

    def stored_config(self) -> IndexConfig | None:
        """The index's config (None: a new directory). When ``videopipe-index.json`` is damaged,
        the copy in the newest snapshot that has one (the next writer restores the file)."""
        if not self.exists():
            return None
        try:
            return self._read_config()
        except _Problem as p:
            copy = self._config_copy()
            if copy is None:
                raise self._config_damage(str(p)) from None
            return copy[1]

    def _read_current(self) -> int | None:
        """The version CURRENT names; None when it does not exist; damage when it is garbage."""
        try:
            text = (self.directory / "CURRENT").read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise self.damage("CURRENT", f"cannot be read ({_describe(e)})") from None
        if not text.isdigit() or int(text) < 1:
            raise self.damage("CURRENT", f"holds {text[:40]!r}, not a snapshot version")
        return int(text)

    def current_version(self) -> int:
        """The committed snapshot version (0: nothing committed yet)."""
        return self._read_current() or 0

    def _manifest(self, version: int) -> Manifest:
        """Snapshot ``version``, checked. FileNotFoundError when absent, :class:`_Problem` when damaged."""
        try:
            raw = self._snapshot_path(version).read_bytes()
        except FileNotFoundError:
            raise
        except OSError as e:
            raise _Problem(f"cannot be read ({_describe(e)})") from None
        return _parse_manifest(raw, version)

    def _committed(self, *, retries: int = 20) -> Manifest:
        """The snapshot CURRENT names. Retries while a writer's commit moves it; a problem that
        stays is an :class:`IndexDamageError`, never an empty index while clips are on disk."""
        version: int | None = None
        for _ in range(retries):
            version = self._read_current()
            if version is None:
                if not self.snapshot_versions():
                    n = self._segment_count()
                    if n:
                        raise self.damage(
                            "CURRENT",
                            f"is missing and no snapshot was committed, while segments/ holds {n} clip "
                            "segment(s) (an `index` run still running, or interrupted before its first commit)",
                        )
                    return Manifest(version=0, entries=[], faiss=None, config=None)
                time.sleep(0.05)  # a first commit between its snapshot and CURRENT
                continue
            rel = self._rel(self._snapshot_path(version))
            try:
                return self._manifest(version)
            except FileNotFoundError:
                if self._read_current() == version:
                    raise self.damage(rel, "is missing (CURRENT names it)") from None
                time.sleep(0.05)  # removed after a newer commit: start over from CURRENT
            except _Problem as p:
                raise self.damage(rel, str(p)) from None
        if version is None:
            on_disk = self.snapshot_versions()
            newest = f", the newest {on_disk[0]:08d}.json" if on_disk else ""
            raise self.damage(
                "CURRENT", f"is missing while snapshots/ holds {len(on_disk)} snapshot(s){newest}"
            )
        raise IndexStoreError(
            f"index {self.directory}: a writer committed {retries} times while this reader loaded a "
            "snapshot; retry"
        )

    def read_entries(self) -> list[FileEntry]:
        """The files of the committed snapshot (metadata only, no vectors)."""
        return self._committed().entries

    def open_snapshot(self, *, retries: int = 20) -> Snapshot:
        """Load the committed snapshot (vectors and metadata) into memory."""
        cfg = self.config()
        for _ in range(retries):
            m = self._committed(retries=retries)
            try:
                return self._load(m, cfg)
            except _Vanished as v:  # collected under a very slow reader, or lost
                if self._read_current() == m.version:
                    raise self.damage(v.file, f"({v.what}) is missing") from None
                time.sleep(0.05)
        raise IndexStoreError(
            f"index {self.directory}: a writer committed {retries} times while this reader loaded a "
            "snapshot; retry"
        )

    def _load(self, m: Manifest, cfg: IndexConfig) -> Snapshot:
        vecs, starts, ends, texts, owner, sources = [], [], [], [], [], []
        lines: dict[str, LineTable] = {}
        for i, e in enumerate(m.entries):
            if e.n_clips == 0:
                continue
            path = self.segment_path(e.key)
            try:
                seg = read_segment(path, n_clips=e.n_clips, dim=cfg.dim)
            except FileNotFoundError:
                raise _Vanished(self._rel(path), f"the clips of {e.path}") from None
            except _Problem as p:
                raise self.damage(self._rel(path), f"(the clips of {e.path}) {p}") from None
            vecs.append(seg["vectors"])
            starts.append(seg["starts_s"])
            ends.append(seg["ends_s"])
            texts.extend(seg["texts"])
            sources.extend(seg["sources"])
            if len(seg["lines"]):
                lines[e.path] = seg["lines"]
            owner.append(np.full(e.n_clips, i, np.int64))
        return Snapshot(
            directory=self.directory,
            version=m.version,
            config=cfg,
            entries=tuple(m.entries),
            vectors=np.concatenate(vecs) if vecs else np.zeros((0, cfg.dim), np.float32),
            starts_s=np.concatenate(starts) if starts else np.zeros(0),
            ends_s=np.concatenate(ends) if ends else np.zeros(0),
            texts=texts,
            entry_of_row=np.concatenate(owner) if owner else np.zeros(0, np.int64),
            faiss=m.faiss,
            sources=sources,
            lines=lines,
        )

    def load_faiss(self, meta: FaissMeta, n_vectors: int, *, device: str = "auto") -> Any:
        """The FAISS index of ``meta`` (which names a file), checked to hold ``n_vectors``;
        :class:`IndexDamageError` when it is missing or cannot be read."""
        from videopipe.retrieval.faiss_index import load_index

        assert meta.file is not None
        path = self.directory / meta.file
        if not path.is_file():
            raise self.damage(meta.file, "is missing")
        try:
            vi = load_index(path, meta.kind, params=meta.params, device=device)
        except IndexStoreError as e:  # faiss' own RuntimeError is its context
            why = _describe(e.__context__ or e)
            raise self.damage(meta.file, f"cannot be read by FAISS, truncated? ({why[:200]})") from None
        if vi.ntotal != n_vectors:
            raise self.damage(meta.file, f"holds {vi.ntotal} vectors, the snapshot {n_vectors}")
        return vi

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writer(self, config: IndexConfig, *, lock_timeout_s: float = 30.0) -> Iterator[IndexWriter]:
        """Take the write lock and yield an :class:`IndexWriter` (creating the index with
        ``config`` if the directory is new; an existing index must have the same config).

        A damaged index is repaired here (each repair is listed in ``IndexWriter.repairs``): a
        damaged config is restored from the newest snapshot's copy; a missing or garbage
        ``CURRENT``, or a damaged snapshot, makes the writer start from the newest readable
        snapshot (none readable: from nothing, and the indexer reuses the segments on disk for
        the videos it finds); an entry whose segment is missing or damaged is dropped, so its
        video is re-embedded; a damaged FAISS file is rebuilt. The writer then commits."""
        from filelock import FileLock, Timeout

        known = {CONFIG_NAME, "CURRENT", "snapshots", "segments", "faiss", "write.lock"}
        if self.directory.is_dir() and not self.exists():
            strangers = sorted(
                p.name for p in self.directory.iterdir() if p.name.split(_TMP_MARK)[0] not in known
            )
            if strangers:
                raise IndexStoreError(
                    f"{self.directory} is not empty and not a videopipe index (it holds {strangers[0]!r}, ...); "
                    "give --index a new or empty directory"
                )
        lock = FileLock(str(self.directory / "write.lock"))
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for sub in ("snapshots", "segments", "faiss"):
                (self.directory / sub).mkdir(exist_ok=True)
            lock.acquire(timeout=lock_timeout_s)
        except Timeout:
            raise IndexStoreError(
                f"index {self.directory} is being written by another process (write.lock held for "
                f"{lock_timeout_s:g} s); wait for it to finish"
            ) from None
        except OSError as e:
            raise IndexWriteError(
                e.errno, f"index {self.directory} cannot be written ({_describe(e)})"
            ) from e
        try:
            repairs: list[str] = []
            stored, restore = config, None
            if self.exists():
                try:
                    stored = self._read_config()
                except _Problem as p:
                    copy = self._config_copy()
                    if copy is None:
                        raise self._config_damage(str(p)) from None
                    stored, restore = (
                        copy[1],
                        f"{CONFIG_NAME} {p}: restored from snapshots/{copy[0]:08d}.json",
                    )
                check_same_config(stored, config, self.directory)
            if restore is not None or not self.exists():
                _write_json(self.config_path, {"format": FORMAT, "config": asdict(stored)})
            if restore is not None:
                repairs.append(restore)
            base, top = self._writer_base(repairs)
            yield IndexWriter(self, config, base=base, top_version=top, repairs=repairs, stored_config=stored)
        finally:
            lock.release()

    def _writer_base(self, repairs: list[str]) -> tuple[Manifest, int]:
        """(the snapshot a writer starts from, the highest version on disk); appends to
        ``repairs`` what was damaged on the way to it."""
        already = len(repairs)
        on_disk = self.snapshot_versions()
        try:
            current = self._read_current()
        except IndexDamageError as e:
            current = None
            repairs.append(f"CURRENT {e.problem}")
        else:
            if current is None and (on_disk or self._segment_count()):
                repairs.append("CURRENT was missing")
        top = max([*on_disk, current or 0])
        for v in [current] * bool(current) + [v for v in on_disk if v != current]:
            rel = self._rel(self._snapshot_path(v))
            try:
                m = self._manifest(v)
            except FileNotFoundError:
                repairs.append(f"{rel} (named by CURRENT) was missing")  # (others: listed just now)
                continue
            except _Problem as p:
                repairs.append(f"{rel} {p}")
                continue
            if len(repairs) > already:
                repairs.append(f"started from {rel}, the newest readable snapshot")
            return m, top
        if len(repairs) > already:
            repairs.append(
                "no readable snapshot: the indexed files are found again from the videos indexed now "
                f"(their {self._segment_count()} segment(s) on disk are reused, not re-embedded)"
            )
        return Manifest(version=0, entries=[], faiss=None, config=None), top


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
    if have.text_key != want.text_key:
        raise IndexStoreError(
            f"index {where} was built from the text {have.text_key!r}, not {want.text_key!r} (the "
            "text sources and the ASR/OCR settings); use the same --text and --asr-model or another "
            "--index directory"
        )
    if have.segmentation != want.segmentation or have.frames_per_clip != want.frames_per_clip:
        raise IndexStoreError(
            f"index {where} was built with segmentation {have.segmentation} and {have.frames_per_clip} "
            f"frames per clip, not {want.segmentation} / {want.frames_per_clip}; use the same options "
            "or another --index directory"
        )


def _strings(xs: list[str]) -> np.ndarray:
    return np.asarray(xs, dtype=str) if xs else np.zeros(0, dtype="<U1")


def save_segment(
    path: Path,
    starts_s: np.ndarray,
    ends_s: np.ndarray,
    texts: list[str],
    vectors: np.ndarray,
    *,
    sources: list[str] | None = None,
    lines: LineTable | None = None,
) -> None:
    lines = lines if lines is not None else LineTable.empty()
    with atomic_write(path) as f:
        np.savez(
            f,
            vectors=np.ascontiguousarray(vectors, np.float32),
            starts_s=np.asarray(starts_s, np.float64),
            ends_s=np.asarray(ends_s, np.float64),
            texts=_strings(texts),
            sources=_strings(list(sources) if sources is not None else [""] * len(texts)),
            line_starts_s=np.asarray(lines.starts_s, np.float64),
            line_ends_s=np.asarray(lines.ends_s, np.float64),
            line_texts=_strings(lines.texts),
            line_sources=_strings(lines.sources),
        )


def read_segment(path: Path, *, n_clips: int | None = None, dim: int | None = None) -> dict[str, Any]:
    """Load a segment file and check it (``n_clips`` rows of ``dim``, when given).
    FileNotFoundError when it does not exist; :class:`_Problem` when it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as z:
            seg = {
                "vectors": z["vectors"],
                "starts_s": z["starts_s"],
                "ends_s": z["ends_s"],
                "texts": [str(t) for t in z["texts"]],
            }
            # segments written before text sources existed hold subtitle text and no lines
            names = set(z.files)
            seg["sources"] = (
                [str(t) for t in z["sources"]]
                if "sources" in names
                else ["subtitles" if t else "" for t in seg["texts"]]
            )
            seg["lines"] = (
                LineTable(
                    np.asarray(z["line_starts_s"], np.float64),
                    np.asarray(z["line_ends_s"], np.float64),
                    [str(t) for t in z["line_texts"]],
                    [str(t) for t in z["line_sources"]],
                )
                if "line_texts" in names
                else LineTable.empty()
            )
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile, EOFError, zlib.error, OSError, ValueError, KeyError...
        raise _Problem(f"is truncated or not a segment file ({_describe(e)})") from None
    v = seg["vectors"]
    n = v.shape[0] if v.ndim == 2 else -1
    if (
        n < 0
        or v.dtype != np.float32
        or (dim is not None and n and v.shape[1] != dim)
        or (n_clips is not None and n != n_clips)
        or seg["starts_s"].shape != (n,)
        or seg["ends_s"].shape != (n,)
        or len(seg["texts"]) != n
        or len(seg["sources"]) != n
        or not (
            seg["lines"].starts_s.shape
            == seg["lines"].ends_s.shape
            == (len(seg["lines"].texts),)
            == (len(seg["lines"].sources),)
        )
    ):
        want = f"({n_clips}, {dim}) vectors" if n_clips is not None else "aligned arrays"
        raise _Problem(
            f"holds vectors of shape {v.shape} ({v.dtype}) with {seg['starts_s'].shape[0]} starts and "
            f"{len(seg['texts'])} texts, expected {want}"
        )
    return seg


def load_segment(path: Path) -> dict[str, Any]:
    """:func:`read_segment` with damage as an :class:`IndexStoreError` naming the file."""
    try:
        return read_segment(path)
    except _Problem as p:
        raise IndexStoreError(f"index segment {path} {p}") from None


class IndexWriter:
    """Changes to an index, made visible by :meth:`commit` (one atomic snapshot each).

    ``repairs`` lists what was damaged and how it is repaired; ``lost`` maps the path of each
    video whose segment was missing or damaged to the problem (its entry is dropped, so the
    indexer re-embeds it)."""

    def __init__(
        self,
        store: IndexStore,
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
            base = store._committed()
        self.base_version = base.version
        self.version = max(base.version, top_version)  # the next commit is above every snapshot on disk
        self._faiss = base.faiss
        self.repairs: list[str] = list(repairs or [])
        self.lost: dict[str, str] = {}
        self._clips: dict[
            str, int | None
        ] = {}  # content key -> clip count of its checked segment (None: unusable)
        self.entries: dict[str, FileEntry] = {}
        for e in base.entries:
            problem = self._segment_problem(e.key, e.n_clips) if e.n_clips else None
            if problem is None:
                self.entries[e.path] = e
                continue
            self.lost[e.path] = problem
            self.repairs.append(
                f"{self.store._rel(store.segment_path(e.key))} (the clips of {e.path}) {problem}"
            )
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
            seg = read_segment(self.store.segment_path(key), n_clips=n_clips, dim=self.config.dim)
        except FileNotFoundError:
            self._clips[key] = None
            return "is missing"
        except _Problem as p:
            self._clips[key] = None
            return str(p)
        self._clips[key] = int(seg["vectors"].shape[0])
        return None

    def has_segment(self, key: str) -> bool:
        """True when a readable segment for this content exists (a damaged one does not count)."""
        if key not in self._clips:
            self._segment_problem(key)
        return self._clips[key] is not None

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
        save_segment(
            self.store.segment_path(key),
            starts_s,
            ends_s,
            texts,
            v.reshape(v.shape[0], self.config.dim),
            sources=sources,
            lines=lines,
        )
        self._clips[key] = int(v.shape[0])

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
        _write_json(self.store._snapshot_path(version), manifest)
        with atomic_write(self.store.directory / "CURRENT") as f:
            f.write(f"{version}\n".encode())
        _fsync_dir(self.store.directory)
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
            [load_segment(self.store.segment_path(e.key))["vectors"] for e in entries if e.n_clips]
            or [np.zeros((0, self.config.dim), np.float32)]
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
        kind = vi.kind
        meta = FaissMeta(kind=kind, digest=digest, file=None, **measured)
        if kind != "flat":
            rel = f"faiss/{digest}-{kind}.faiss"
            target = self.store.directory / rel
            tmp = target.with_name(f"{target.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                vi.save(tmp)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except (OSError, RuntimeError) as e:  # faiss reports a failed write as RuntimeError
                raise IndexWriteError(f"cannot write {target} ({_describe(e)})") from e
            finally:
                tmp.unlink(missing_ok=True)
            meta = FaissMeta(kind=kind, digest=digest, file=rel, **measured)
        self.commit(faiss=meta)
        return meta

    def garbage_collect(self) -> int:
        """Delete snapshots older than the newest ``KEEP_SNAPSHOTS``, damaged snapshots, files
        none of the kept ones reference, and temporary files of crashed writers. Returns files
        removed."""
        d = self.store.directory
        keep_versions = set(range(max(1, self.version - KEEP_SNAPSHOTS + 1), self.version + 1))
        referenced: set[str] = set()
        for v in sorted(keep_versions):
            try:
                m = self.store._manifest(v)
            except FileNotFoundError:
                continue
            except _Problem:
                keep_versions.discard(v)  # damaged (this writer committed above it): removed below
                continue
            referenced.update(f"segments/{e.key}.npz" for e in m.entries)
            if m.faiss is not None and m.faiss.file:
                referenced.add(m.faiss.file)
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
