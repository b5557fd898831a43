"""What a writer starts from in a damaged index, and the repairs that takes (each one a line
for ``IndexWriter.repairs``)."""

from __future__ import annotations

import shutil

from videopipe.retrieval.store.damage import IndexDamageError, Problem
from videopipe.retrieval.store.files import IndexFiles
from videopipe.retrieval.store.records import CONFIG_NAME, IndexConfig, Manifest


def true_config(files: IndexFiles, base: Manifest | None = None) -> tuple[IndexConfig, str | None]:
    """(the index's config, the repair its file needs: None when it needs none).

    The config file is written once and every snapshot carries a copy of it; a file that is
    missing, damaged or differs from the copy is restored from the copy (``base``'s, else the
    newest readable snapshot's). Damage that no copy repairs is an :class:`IndexDamageError`."""
    copy = (base.version, base.config) if base is not None and base.config is not None else None
    copy = copy or files.config_copy()
    try:
        cfg = files.read_config()
    except Problem as p:
        if copy is None:
            raise files.config_damage(str(p)) from None
        problem = str(p)
    else:
        if copy is None or copy[1] == cfg:
            return cfg, None
        problem = files.changed_config(cfg, copy)
    return copy[1], f"{CONFIG_NAME} {problem}: restored from {files.rel(files.snapshot_path(copy[0]))}"


def writer_base(files: IndexFiles) -> tuple[Manifest, int, list[str]]:
    """(the snapshot a writer starts from, the highest version on disk, what was damaged on the
    way to it). CURRENT's snapshot when it is readable; else the newest readable one; else none
    (the indexer finds the files again and reuses their segments on disk)."""
    repairs: list[str] = []
    on_disk = files.snapshot_versions()
    try:
        current = files.read_current()
    except IndexDamageError as e:
        current = None
        repairs.append(f"CURRENT {e.problem}")
    else:
        if current is None and (on_disk or files.segment_count()):
            repairs.append("CURRENT was missing")
    top = max([*on_disk, current or 0])
    for v in [current] * bool(current) + [v for v in on_disk if v != current]:
        rel = files.rel(files.snapshot_path(v))
        try:
            m = files.manifest(v)
        except FileNotFoundError:
            repairs.append(f"{rel} (named by CURRENT) was missing")  # (others: listed just now)
            continue
        except Problem as p:
            repairs.append(f"{rel} {p}")
            continue
        if repairs:
            repairs.append(f"started from {rel}, the newest readable snapshot")
        return m, top, repairs
    if repairs:
        repairs.append(
            "no readable snapshot: the indexed files are found again from the videos indexed now "
            f"(their {files.segment_count()} segment(s) on disk are reused, not re-embedded)"
        )
    return Manifest.empty(), top, repairs


def remove_directories(files: IndexFiles) -> None:
    """Remove a directory where ``CURRENT`` or the config file belongs (damage the readers
    named, listed in the repairs by :func:`writer_base` and :func:`true_config`), so that the
    writer can write the file."""
    for p in (files.current_path, files.config_path):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
