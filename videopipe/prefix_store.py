"""The prefix cache on disk: a second ``videopipe ask`` about the same video, in a new process,
continues from the KV cache the first one left instead of prefilling the video's tokens again.

:class:`DiskPrefixCache` is a :class:`~videopipe.prefix_cache.PrefixCache` (the in-memory one
the server uses) that also writes each stored KV cache to one safetensors file and, on a
miss in memory, reads the file of the prompt's video. A file is found by its *video key*: a
hash of the model key (checkpoint, dtype, speed options) and of the prompt's rows up to and
including its last visual row (the system text, the visual tokens themselves, their
positions), so only a prompt showing the same tokens to the same model opens it; the rows
stored in the file are then compared row by row (:meth:`PromptRows.common_prefix`) as in
memory, so a changed question, system message or compression simply shares fewer rows.

What a file may hold is data only (safetensors: no pickle, nothing runs). It is read as a
miss, never an error, when it is corrupt, written for another model key, or when its keys
and values do not have the shape the model's language model makes (:class:`KVShape`): a
file of the wrong shape would otherwise reach attention. One file per video key (the last
question's prompt and answer); the folder is kept under ``budget_bytes`` by dropping the
least recently used files. Measured in ``benchmarks/real_size.py`` (the second question).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.cache_files import read_entry, save_tensors_atomic, tensor_bytes
from videopipe.prefix_cache import KVShape, PrefixCache, PrefixEntry, PromptRows
from videopipe.settings import resolve_quantize

if TYPE_CHECKING:
    import torch

    from videopipe.config import PipelineConfig
    from videopipe.protocols import VideoLLM

__all__ = ["DiskPrefixCache", "keep_prefixes_on_disk"]

#: the safetensors metadata key of an entry's JSON (format, model key, rows length)
METADATA_KEY = "videopipe-prefix"
FORMAT = 1
_ROWS = ("ids", "positions", "visual", "visual_rows")


class DiskPrefixCache(PrefixCache):
    """A :class:`PrefixCache` whose entries are also kept in ``root`` (see the module
    docstring). ``model_key``: what makes the model's KV values (checkpoint, dtype, speed
    options); ``shape``: the layout every file must have; ``device``: where loaded tensors go.
    ``budget_bytes`` bounds the folder (and one entry); in memory it keeps only the last entry
    (a batch over many videos would otherwise hold every video's KV cache in RAM)."""

    def __init__(
        self,
        root: str | Path,
        *,
        model_key: str,
        shape: KVShape,
        device: str = "cpu",
        budget_bytes: int = 2 << 30,
    ) -> None:
        super().__init__(budget_bytes)
        self.root = Path(root)
        self.model_key = model_key
        self.shape = shape
        self.device = device
        self.disk_hits = 0
        # the file of the last lookup when it already holds that prompt's whole video prefix:
        # storing the prompt then rewrites nothing (a second question keeps the first's file)
        self._covered: Path | None = None

    # -- the PrefixCache contract ------------------------------------------------------------
    def lookup(self, rows: PromptRows) -> tuple[PrefixEntry | None, int]:
        """The longest stored prefix of ``rows``: the entry in memory when it covers the
        prompt's visual rows, else its video's file when that shares more (an entry of another
        video in memory shares only the text before the video)."""
        entry, k = super().lookup(rows)
        visual = rows.visual.nonzero()
        path = self._path(rows)
        self._covered = None
        if entry is not None and (not len(visual) or k > int(visual[-1])):
            if path is not None and path.is_file():
                self._covered = path
            return entry, k
        loaded = self._read(path) if path is not None else None
        disk_k = loaded.rows.common_prefix(rows) if loaded is not None else 0
        if loaded is None or disk_k <= k:
            return (entry, k) if entry is not None else (None, 0)
        self._remember(loaded.rows, loaded.kv, loaded.nbytes - loaded.rows.nbytes)
        self.disk_hits += 1
        self.reused_tokens += disk_k - k  # the memory match (k rows) was counted by the lookup above
        if disk_k > int(visual[-1]):
            self._covered = path
        return loaded, disk_k

    def store(self, rows: PromptRows, kv: object, kv_bytes: int) -> bool:
        kept = self._remember(rows, kv, kv_bytes)
        path = self._path(rows)
        covered, self._covered = self._covered, None
        if path is not None and path == covered and path.is_file():
            return kept  # the file already holds this video's prefix: nothing to write
        if path is not None and kv_bytes + rows.nbytes <= self.budget_bytes:
            try:
                self._write(path, rows, kv)
                self._trim()
            except OSError:  # the disk side only saves time: a read-only or full disk costs it
                return kept
        return kept

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "disk_hits": self.disk_hits}

    def _remember(self, rows: PromptRows, kv: object, kv_bytes: int) -> bool:
        """Keep ``kv`` in memory as the only entry there (the disk holds the others)."""
        kept = super().store(rows, kv, kv_bytes)
        with self._lock:
            while len(self._entries) > 1:
                self._entries.popitem(last=False)
        return kept

    # -- files ---------------------------------------------------------------------------------
    def _path(self, rows: PromptRows) -> Path | None:
        """The file of ``rows``' video key; None for a prompt without visual rows."""
        visual = rows.visual.nonzero()
        if not len(visual):
            return None
        end = int(visual[-1]) + 1
        h = hashlib.sha256(f"{FORMAT}\n{self.model_key}\n".encode())
        for t in (rows.ids[:end], rows.positions[:, :end], rows.visual[:end], rows.visual_rows):
            h.update(str((tuple(t.shape), str(t.dtype))).encode())
            h.update(tensor_bytes(t))
        key = h.hexdigest()[:40]
        return self.root / key[:2] / f"{key}.safetensors"

    def _write(self, path: Path, rows: PromptRows, kv: Any) -> None:
        tensors = {f"rows.{name}": getattr(rows, name) for name in _ROWS}
        for i, layer in enumerate(kv.layers):
            tensors[f"k.{i}"], tensors[f"v.{i}"] = layer.keys, layer.values
        blob = {"format": FORMAT, "model_key": self.model_key, "rows": len(rows), "layers": len(kv.layers)}
        save_tensors_atomic(
            path,
            {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
            {METADATA_KEY: json.dumps(blob)},
        )

    def _read(self, path: Path) -> PrefixEntry | None:
        """The entry in ``path``, or None (absent, not a regular file, corrupt, another model
        key or the wrong shape)."""
        return read_entry(path, METADATA_KEY, self._entry)

    def _entry(self, blob: dict[str, Any], tensors: dict[str, torch.Tensor]) -> PrefixEntry | None:
        from transformers import DynamicCache

        if blob.get("format") != FORMAT or blob.get("model_key") != self.model_key:
            return None

        rows = PromptRows(**{name: tensors[f"rows.{name}"].to(self.device) for name in _ROWS})
        n, s = len(rows), self.shape
        if blob.get("rows") != n or blob.get("layers") != s.layers or rows.positions.shape[-1] != n:
            return None
        if rows.visual.shape != (n,) or int(rows.visual.sum()) != rows.visual_rows.shape[0]:
            return None
        pairs = []
        for i in range(s.layers):
            k, v = tensors[f"k.{i}"], tensors[f"v.{i}"]
            for t in (k, v):
                if (
                    tuple(t.shape) != (1, s.heads, n, s.head_dim)
                    or str(t.dtype).removeprefix("torch.") != s.dtype
                ):
                    return None
            pairs.append((k.to(self.device), v.to(self.device)))
        kv_bytes = sum(t.numel() * t.element_size() for pair in pairs for t in pair)
        return PrefixEntry(rows=rows, kv=DynamicCache(ddp_cache_data=pairs), nbytes=kv_bytes + rows.nbytes)

    def _trim(self) -> None:
        """Drop the least recently used files until the folder is within the budget."""
        files = sorted(self.root.glob("*/*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
        total = 0
        for p in files:
            total += p.stat().st_size
            if total > self.budget_bytes:
                p.unlink(missing_ok=True)


def keep_prefixes_on_disk(model: VideoLLM, cfg: PipelineConfig) -> VideoLLM:
    """``model`` with a :class:`DiskPrefixCache` in ``cfg``'s cache folder (``prefix-kv``) when
    the token cache is on, ``cfg.disk_kv_cache_mb`` > 0 and the model continues from stored
    prefixes (the transformers adapters); unchanged otherwise."""
    if not (cfg.cache_tokens and cfg.disk_kv_cache_mb > 0 and model.reuses_prefix):
        return model
    shape = model.kv_shape()
    if model.prefix_cache is not None or shape is None:
        return model
    quantize = resolve_quantize(cfg.quantize, str(model.device).split(":")[0], shape.dtype)
    speed = f"quantize={quantize}|vision_merge={cfg.vision_merge}"
    model_key = f"{model.model_id}|{_weights_identity(model.model_id)}|{shape.dtype}|{speed}"
    model.prefix_cache = DiskPrefixCache(
        cfg.resolved_cache_dir() / "prefix-kv",
        model_key=model_key,
        shape=shape,
        device=str(model.device),
        budget_bytes=cfg.disk_kv_cache_mb << 20,
    )
    return model


def _weights_identity(model_id: str) -> str:
    """The names, sizes and modification times of a local checkpoint's weight files (a
    checkpoint replaced in place makes other KV values); the id itself for a hub id."""
    p = Path(model_id)
    if not p.is_dir():
        return model_id
    files = sorted(q for q in p.iterdir() if q.suffix in (".safetensors", ".bin", ".gguf"))
    return ";".join(f"{q.name}:{q.stat().st_size}:{q.stat().st_mtime_ns}" for q in files)
