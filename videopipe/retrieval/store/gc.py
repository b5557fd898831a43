"""Garbage collection: what a writer removes after it committed."""

from __future__ import annotations

import shutil
from pathlib import Path

from videopipe.retrieval.store.atomic import TMP_MARK
from videopipe.retrieval.store.checks import parse_version
from videopipe.retrieval.store.damage import Problem
from videopipe.retrieval.store.files import IndexFiles

KEEP_SNAPSHOTS = 3


def _remove(p: Path) -> None:
    """Remove ``p``: a file, a link, or a directory where a file of the index belongs (damage:
    removed with what it holds)."""
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def _stale(name: str, keep_versions: set[int]) -> bool:
    """A snapshot file name whose number is not a version to keep (or no version at all)."""
    stem = name.split(".")[0]
    return stem.isdigit() and parse_version(stem) not in keep_versions


def collect_garbage(files: IndexFiles, version: int) -> int:
    """Delete snapshots older than the newest ``KEEP_SNAPSHOTS`` up to ``version`` (the one just
    committed), damaged snapshots, snapshot files whose name is no version, files none of the
    kept snapshots reference, and temporary files of crashed writers. Returns files removed."""
    d = files.directory
    keep_versions = set(range(max(1, version - KEEP_SNAPSHOTS + 1), version + 1))
    referenced: set[str] = set()
    for v in sorted(keep_versions):
        try:
            m = files.manifest(v)
        except FileNotFoundError:
            continue
        except Problem:
            keep_versions.discard(v)  # damaged (this writer committed above it): removed below
            continue
        referenced.update(f"segments/{e.key}.npz" for e in m.entries)
        if m.faiss is not None and m.faiss.file:
            referenced.add(m.faiss.file)
    garbage = [p for p in (d / "snapshots").iterdir() if TMP_MARK in p.name or _stale(p.name, keep_versions)]
    garbage += [
        p for sub in ("segments", "faiss") for p in (d / sub).iterdir() if f"{sub}/{p.name}" not in referenced
    ]
    garbage += [p for p in d.iterdir() if TMP_MARK in p.name]
    for p in garbage:
        _remove(p)
    return len(garbage)
