"""The records an index keeps: its config, one entry per indexed file, the FAISS index a
snapshot was built with, and a parsed snapshot. They are read back from JSON by
:mod:`~videopipe.retrieval.store.checks`, which checks every field against its type here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from videopipe.errors import IndexStoreError
from videopipe.retrieval.faiss_kinds import IndexKind

FORMAT = 1
CONFIG_NAME = "videopipe-index.json"


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

    def difference(self, other: IndexConfig) -> str:
        """The fields that differ, ``"space 'a' (the other 'b'), ..."`` ("" when equal)."""
        return ", ".join(
            f"{f.name} {str(getattr(self, f.name))[:40]!r} (the other {str(getattr(other, f.name))[:40]!r})"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        )


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

    kind: IndexKind
    digest: str  # digest of the entries (content keys and clip counts, in order) it was built on
    file: str | None  # relative path; None for "flat" (rebuilt from the vectors on load)
    params: dict[str, int] | None = None  # e.g. {"nlist": 2048, "nprobe": 24, "threads": 1}
    recall_at_10: float | None = None  # against exact search, stored vectors as queries
    ms_per_query: float | None = None  # one query at a time, median
    target_recall: float | None = None
    sample_queries: int | None = None
    build_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", IndexKind(self.kind))  # stored as its string value

    def describe(self) -> dict[str, Any]:
        """``{"kind", "params", "recall_at_10", "ms_per_query"}`` for reports."""
        return {
            "kind": self.kind,
            "params": dict(self.params or {}),
            "recall_at_10": self.recall_at_10,
            "ms_per_query": self.ms_per_query,
        }


@dataclass(frozen=True)
class Manifest:
    """One snapshot file, parsed and checked."""

    version: int
    entries: list[FileEntry]
    faiss: FaissMeta | None
    config: IndexConfig | None  # the copy of the index config (None in snapshots written before it)

    @staticmethod
    def empty() -> Manifest:
        return Manifest(version=0, entries=[], faiss=None, config=None)


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
