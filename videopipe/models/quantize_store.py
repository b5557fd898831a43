"""The language model's int8 weights kept on disk between processes (``--quantize``
``int8-weights`` / ``auto``), so that a second ``ask`` reads them instead of quantizing again:
quantizing SmolVLM2-500M's 224 layers is 1-2 s of every process start, on the critical path
of a second question whose visual tokens are cached.

One safetensors file per language model in ``root`` (``$VIDEOPIPE_CACHE/int8-weights``),
found by a fingerprint of the weights themselves: every layer's name, shape, dtype and its
first and last 64 values (a replaced or fine-tuned checkpoint differs there; reading them
touches two pages per layer, not the weights). A file is data only; one that is missing,
corrupt, truncated, a symlink, of another fingerprint or of the wrong shapes is a miss (the
weights are quantized and the file written again), never an error. The folder keeps the
:data:`KEEP_FILES` most recently used files (a 7B language model's file is about 7 GB).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.cache_files import read_entry, save_tensors_atomic, tensor_bytes

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["KEEP_FILES", "Int8WeightStore"]

FORMAT = 1
METADATA_KEY = "videopipe-int8-weights"
#: files kept in the folder (the most recently used)
KEEP_FILES = 2
#: values at each end of a weight that enter the fingerprint
_EDGE = 64

Int8Parts = dict[str, tuple["torch.Tensor", "torch.Tensor"]]


class Int8WeightStore:
    """Int8 weights and scales of a language model's linear layers, by the fingerprint of their
    float weights, in ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def read(self, layers: Mapping[str, nn.Linear]) -> Int8Parts | None:
        """``{name: (int8 weight, scale)}`` for ``layers`` when the folder holds them, else None."""
        import torch

        def parts(blob: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Int8Parts | None:
            if blob.get("format") != FORMAT or blob.get("layers") != len(layers):
                return None
            out: Int8Parts = {}
            for name, linear in layers.items():
                q, scale = tensors[f"{name}.weight_int8"], tensors[f"{name}.scale"]
                w = linear.weight
                if q.dtype != torch.int8 or q.shape != w.shape or scale.shape != (w.shape[0],):
                    return None
                out[name] = (q, scale.to(w.dtype))
            return out

        return read_entry(self._path(layers), METADATA_KEY, parts)

    def write(self, layers: Mapping[str, nn.Linear], parts: Int8Parts) -> None:
        """Keep ``parts`` (the quantized ``layers``); a disk that cannot take it costs only the
        next process's time."""
        tensors = {}
        for name, (q, scale) in parts.items():
            tensors[f"{name}.weight_int8"] = q.contiguous()
            tensors[f"{name}.scale"] = scale.contiguous()
        blob = {"format": FORMAT, "layers": len(layers)}
        try:
            save_tensors_atomic(self._path(layers), tensors, {METADATA_KEY: json.dumps(blob)})
            self._trim()
        except OSError:
            pass

    def _path(self, layers: Mapping[str, nn.Linear]) -> Path:
        h = hashlib.sha256(f"{FORMAT}\n".encode())
        for name, linear in layers.items():
            w = linear.weight.detach().reshape(-1)
            h.update(f"{name}|{tuple(linear.weight.shape)}|{w.dtype}\n".encode())
            for edge in (w[:_EDGE], w[-_EDGE:]):
                h.update(tensor_bytes(edge))
        key = h.hexdigest()[:40]
        return self.root / f"{key}.safetensors"

    def _trim(self) -> None:
        files = sorted(self.root.glob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in files[KEEP_FILES:]:
            p.unlink(missing_ok=True)
