"""The index store: an index directory's files, read as snapshots and written by one writer
at a time (see :mod:`videopipe.retrieval.store` for the layout and the guarantees)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from videopipe.errors import IndexStoreError
from videopipe.retrieval.store.atomic import TMP_MARK, write_json
from videopipe.retrieval.store.damage import IndexWriteError, Problem, Vanished, describe
from videopipe.retrieval.store.files import IndexFiles
from videopipe.retrieval.store.records import CONFIG_NAME, FORMAT, FileEntry, IndexConfig, check_same_config
from videopipe.retrieval.store.repair import remove_directories, true_config, writer_base
from videopipe.retrieval.store.snapshot import Snapshot, load_snapshot
from videopipe.retrieval.store.writer import IndexWriter

_KNOWN = frozenset({CONFIG_NAME, "CURRENT", "snapshots", "segments", "faiss", "write.lock"})


class IndexStore(IndexFiles):
    """An index directory: its files (:class:`IndexFiles`), read as snapshots, changed through
    :meth:`writer`."""

    # -- reading -------------------------------------------------------------------------
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
            return self.read_config()
        except Problem as p:
            raise self.config_damage(str(p)) from None

    def stored_config(self) -> IndexConfig | None:
        """The index's config (None: a new directory). When ``videopipe-index.json`` is damaged
        or differs from the copy every snapshot carries, the copy in the newest snapshot that
        has one (the next writer restores the file)."""
        if not self.exists():
            return None
        return true_config(self)[0]

    def read_entries(self) -> list[FileEntry]:
        """The files of the committed snapshot (metadata only, no vectors)."""
        return self.committed().entries

    def open_snapshot(self, *, retries: int = 20) -> Snapshot:
        """Load the committed snapshot (vectors and metadata) into memory."""
        cfg = self.config()
        for _ in range(retries):
            m = self.committed(retries=retries)
            if m.config is not None and m.config != cfg:
                raise self.damage(CONFIG_NAME, self.changed_config(cfg, (m.version, m.config)))
            try:
                return load_snapshot(self, m, cfg)
            except Vanished as v:  # collected under a very slow reader, or lost
                if self.read_current() == m.version:
                    raise self.damage(v.file, f"({v.what}) is missing") from None
                time.sleep(0.05)
        raise self.too_busy(retries)

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writer(self, config: IndexConfig, *, lock_timeout_s: float = 30.0) -> Iterator[IndexWriter]:
        """Take the write lock and yield an :class:`IndexWriter` (creating the index with
        ``config`` if the directory is new; an existing index must have the same config).

        A damaged index is repaired here (each repair is listed in ``IndexWriter.repairs``): a
        damaged config, or one that differs from the copy in the snapshots, is restored from
        that copy; a missing or garbage ``CURRENT``, or a damaged snapshot, makes the writer
        start from the newest readable snapshot (none readable: from nothing, and the indexer
        reuses the segments on disk for the videos it finds); an entry whose segment is
        missing or damaged is dropped, so its video is re-embedded; a damaged FAISS file is
        rebuilt. The writer then commits."""
        from filelock import FileLock, Timeout

        if self.directory.is_dir() and not self.exists():
            strangers = sorted(
                p.name for p in self.directory.iterdir() if p.name.split(TMP_MARK)[0] not in _KNOWN
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
            raise IndexWriteError(e.errno, f"index {self.directory} cannot be written ({describe(e)})") from e
        try:
            fresh = not self.exists()
            base, top, repairs = writer_base(self)
            stored, restore = (config, None) if fresh else true_config(self, base)
            check_same_config(stored, config, self.directory)
            remove_directories(self)
            if fresh or restore is not None:
                write_json(self.config_path, {"format": FORMAT, "config": asdict(stored)})
            repairs = [restore, *repairs] if restore is not None else repairs
            yield IndexWriter(self, config, base=base, top_version=top, repairs=repairs, stored_config=stored)
        finally:
            lock.release()
