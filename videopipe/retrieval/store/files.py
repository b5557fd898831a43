"""The files of an index directory, read and checked: where each lives, which snapshot
``CURRENT`` commits, the config and its copies, FAISS files, and the damage errors that name
a file and the command that repairs it. Reading only; nothing here writes."""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from typing import Any

from videopipe.errors import IndexStoreError
from videopipe.retrieval.store.checks import parse_config, parse_json, parse_manifest, parse_version
from videopipe.retrieval.store.damage import IndexDamageError, Problem, describe, read_bytes
from videopipe.retrieval.store.records import CONFIG_NAME, FORMAT, FaissMeta, IndexConfig, Manifest


def _covering_dirs(paths: list[str]) -> list[str]:
    """The folders holding ``paths``, without the subfolders of another one of them."""
    out: list[str] = []
    for d in sorted({str(Path(p).parent) for p in paths}):
        if not any(Path(d).is_relative_to(o) for o in out):
            out.append(d)
    return out


class IndexFiles:
    """The files of the index directory ``directory`` (see :mod:`videopipe.retrieval.store`
    for the layout)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser().resolve()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.directory)!r})"

    # -- paths ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME

    @property
    def current_path(self) -> Path:
        return self.directory / "CURRENT"

    def snapshot_path(self, version: int) -> Path:
        return self.directory / "snapshots" / f"{version:08d}.json"

    def segment_path(self, key: str) -> Path:
        return self.directory / "segments" / f"{key}.npz"

    def rel(self, path: Path) -> str:
        """``path`` relative to the index directory, as damage reports name it."""
        return path.relative_to(self.directory).as_posix()

    def snapshot_versions(self) -> list[int]:
        """Versions of the snapshot files on disk (readable or not), newest first."""
        try:
            names = os.listdir(self.directory / "snapshots")
        except OSError:
            return []
        versions = (parse_version(n[:-5]) for n in names if n.endswith(".json"))
        return sorted((v for v in versions if v is not None), reverse=True)

    def segment_count(self) -> int:
        try:
            return sum(n.endswith(".npz") for n in os.listdir(self.directory / "segments"))
        except OSError:
            return 0

    def exists(self) -> bool:
        """True when the directory holds an index: its config, or (damaged) any other index
        file: CURRENT, a snapshot or a segment."""
        return (
            self.config_path.is_file()
            or self.current_path.exists()
            or bool(self.snapshot_versions())
            or bool(self.segment_count())
        )

    # -- damage --------------------------------------------------------------------------
    def repair_command(self) -> str:
        """``videopipe index FOLDERS --index DIR``: the run that repairs this index (FOLDERS: the
        folders of the videos of its newest readable snapshot, or PATH... when unknown)."""
        dirs: list[str] = []
        for v in self.snapshot_versions():
            try:
                dirs = _covering_dirs([e.path for e in self.manifest(v).entries])
                break
            except (OSError, Problem):
                continue
        what = " ".join(shlex.quote(d) for d in dirs) if 0 < len(dirs) <= 3 else "PATH..."
        return f"videopipe index {what} --index {shlex.quote(str(self.directory))}"

    def damage(self, file: str, problem: str) -> IndexDamageError:
        """The error for a damaged ``file`` (relative to the index directory), with the fix."""
        return IndexDamageError(
            self.directory, file, problem, f"run `{self.repair_command()}` on the same folder to repair it"
        )

    def config_damage(self, problem: str) -> IndexDamageError:
        if self.config_copy() is not None:
            return self.damage(CONFIG_NAME, problem)
        return IndexDamageError(
            self.directory,
            CONFIG_NAME,
            problem,
            "no snapshot holds a copy of it, so the embedder and clip options of this index are lost: "
            "index the videos into a new --index directory",
        )

    def changed_config(self, config: IndexConfig, copy: tuple[int, IndexConfig]) -> str:
        """The problem of a config file that differs from the copy snapshot ``copy[0]`` holds."""
        rel = self.rel(self.snapshot_path(copy[0]))
        return f"differs from the copy in {rel} ({config.difference(copy[1])})"

    def too_busy(self, retries: int) -> IndexStoreError:
        return IndexStoreError(
            f"index {self.directory}: a writer committed {retries} times while this reader loaded a "
            "snapshot; retry"
        )

    # -- reading -------------------------------------------------------------------------
    def read_config(self) -> IndexConfig:
        """The config file, checked; :class:`Problem` when it is missing or damaged."""
        try:
            raw = read_bytes(self.config_path)
        except FileNotFoundError:
            raise Problem("is missing") from None
        data = parse_json(raw)
        if not isinstance(data, dict):
            raise Problem(f"is not an index config (a JSON {type(data).__name__})")
        if data.get("format") != FORMAT:
            raise IndexStoreError(
                f"{self.config_path} has format {data.get('format')}, this videopipe reads {FORMAT}; "
                "rebuild the index"
            )
        return parse_config(data.get("config"))

    def config_copy(self) -> tuple[int, IndexConfig] | None:
        """(version, config) from the newest readable snapshot that holds a copy of the config."""
        for v in self.snapshot_versions():
            try:
                m = self.manifest(v)
            except (OSError, Problem):
                continue
            if m.config is not None:
                return v, m.config
        return None

    def read_current(self) -> int | None:
        """The version CURRENT names; None when it does not exist; damage when it is garbage."""
        try:
            raw = read_bytes(self.current_path)
        except FileNotFoundError:
            return None
        except Problem as p:
            raise self.damage("CURRENT", str(p)) from None
        text = raw.decode("ascii", "replace").strip()
        version = parse_version(text)
        if version is None:
            more = f" ({len(text)} characters)" if len(text) > 40 else ""
            raise self.damage("CURRENT", f"holds {text[:40]!r}{more}, not a snapshot version")
        return version

    def current_version(self) -> int:
        """The committed snapshot version (0: nothing committed yet)."""
        return self.read_current() or 0

    def manifest(self, version: int) -> Manifest:
        """Snapshot ``version``, checked. FileNotFoundError when absent, :class:`Problem` when damaged."""
        return parse_manifest(read_bytes(self.snapshot_path(version)), version)

    def committed(self, *, retries: int = 20) -> Manifest:
        """The snapshot CURRENT names. Retries while a writer's commit moves it; a problem that
        stays is an :class:`IndexDamageError`, never an empty index while clips are on disk."""
        version: int | None = None
        for _ in range(retries):
            version = self.read_current()
            if version is None:
                if not self.snapshot_versions():
                    n = self.segment_count()
                    if n:
                        raise self.damage(
                            "CURRENT",
                            f"is missing and no snapshot was committed, while segments/ holds {n} clip "
                            "segment(s) (an `index` run still running, or interrupted before its first commit)",
                        )
                    return Manifest.empty()
                time.sleep(0.05)  # a first commit between its snapshot and CURRENT
                continue
            rel = self.rel(self.snapshot_path(version))
            try:
                return self.manifest(version)
            except FileNotFoundError:
                if self.read_current() == version:
                    raise self.damage(rel, "is missing (CURRENT names it)") from None
                time.sleep(0.05)  # removed after a newer commit: start over from CURRENT
            except Problem as p:
                raise self.damage(rel, str(p)) from None
        if version is None:
            on_disk = self.snapshot_versions()
            newest = f", the newest {on_disk[0]:08d}.json" if on_disk else ""
            raise self.damage(
                "CURRENT", f"is missing while snapshots/ holds {len(on_disk)} snapshot(s){newest}"
            )
        raise self.too_busy(retries)

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
            why = describe(e.__context__ or e)
            raise self.damage(meta.file, f"cannot be read by FAISS, truncated? ({why[:200]})") from None
        if vi.ntotal != n_vectors:
            raise self.damage(meta.file, f"holds {vi.ntotal} vectors, the snapshot {n_vectors}")
        return vi
