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

The modules, lowest first: ``records`` (the dataclasses), ``damage`` (the errors; what is wrong
with one file), ``checks`` (JSON back into records, every field checked from its dataclass),
``atomic`` (the one atomic writer), ``segments`` (:class:`Segment`: save, load, check),
``files`` (:class:`IndexFiles`: the layout, read and checked), ``snapshot`` (a loaded
:class:`Snapshot`), ``gc``, ``writer`` (:class:`IndexWriter`), ``repair`` (where a writer starts
in a damaged index), ``index_store`` (:class:`IndexStore`: the files read as snapshots, and the
writer).
"""

from videopipe.retrieval.store.atomic import atomic_write
from videopipe.retrieval.store.damage import IndexDamageError, IndexWriteError
from videopipe.retrieval.store.files import IndexFiles
from videopipe.retrieval.store.gc import KEEP_SNAPSHOTS
from videopipe.retrieval.store.index_store import IndexStore
from videopipe.retrieval.store.records import (
    CONFIG_NAME,
    FORMAT,
    FaissMeta,
    FileEntry,
    IndexConfig,
    Manifest,
    check_same_config,
    content_key,
    entries_digest,
    video_path,
)
from videopipe.retrieval.store.segments import LineTable, Segment
from videopipe.retrieval.store.snapshot import Snapshot
from videopipe.retrieval.store.writer import IndexWriter

__all__ = [
    "CONFIG_NAME",
    "FORMAT",
    "KEEP_SNAPSHOTS",
    "FaissMeta",
    "FileEntry",
    "IndexConfig",
    "IndexDamageError",
    "IndexFiles",
    "IndexStore",
    "IndexWriteError",
    "IndexWriter",
    "LineTable",
    "Manifest",
    "Segment",
    "Snapshot",
    "atomic_write",
    "check_same_config",
    "content_key",
    "entries_digest",
    "video_path",
]
