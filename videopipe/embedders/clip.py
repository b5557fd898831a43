"""``clip``: CLIP / SigLIP image-text embeddings through Hugging Face transformers.

``model_id`` is a hub id or a local directory holding a ``CLIPModel`` or ``SiglipModel``
(``config.model_type`` decides), its image processor and its tokenizer. Embeddings are the
model's own ``get_image_features`` / ``get_text_features`` (the projected, pooled outputs),
L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from videopipe.devices import resolve_device
from videopipe.errors import ConfigError, InputError, ModelError
from videopipe.protocols import Embedder

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
_FAMILIES = ("clip", "siglip", "siglip2")


class ClipEmbedder(Embedder):
    """Image-text embedder over a CLIP-family dual encoder.

    model_id:   hub id or local directory (default: ``openai/clip-vit-base-patch32``)
    device:     "cpu", "cuda", "cuda:N" or "auto" (CUDA when available)
    batch_size: images/texts per forward pass
    """

    name = "clip"

    def __init__(
        self, model_id: str = DEFAULT_CLIP_MODEL, *, device: str = "auto", batch_size: int = 32
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"clip embedder batch_size must be >= 1, got {batch_size}")
        self.model_id = str(model_id)
        self.batch_size = int(batch_size)
        self.device = resolve_device(device, purpose="the CLIP embedder on a GPU")
        self._model, self._image_processor, self._tokenizer, self.family = _load(self.model_id)
        self._model.to(self.device).eval()
        self.space = f"{self.family}:{self.model_id}"
        self.dim = _projection_dim(self._model.config)

    # -- images --------------------------------------------------------------------------
    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB -> float32 [N, dim], unit rows."""
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise InputError(f"embed_images needs a uint8 tensor [N,H,W,3], got {shape}")
        out = []
        for s in range(0, len(images), self.batch_size):
            batch = [img.cpu().numpy() for img in images[s : s + self.batch_size]]
            pix = self._image_processor(images=batch, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                feats = _pooled(self._model.get_image_features(pixel_values=pix.to(self.device)))
            out.append(feats.float().cpu())
        if not out:
            return torch.zeros(0, self.dim)
        return torch.nn.functional.normalize(torch.cat(out), dim=-1)

    # -- texts ---------------------------------------------------------------------------
    def text_inputs(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenised ``texts`` as the model expects them (SigLIP: padded to max length)."""
        max_len = int(getattr(self._model.config.text_config, "max_position_embeddings", 77))
        pad: Any = "max_length" if self.family.startswith("siglip") else True
        enc = self._tokenizer(
            list(texts), padding=pad, truncation=True, max_length=max_len, return_tensors="pt"
        )
        keep = ("input_ids", "attention_mask") if not self.family.startswith("siglip") else ("input_ids",)
        return {k: v.to(self.device) for k, v in enc.items() if k in keep}

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """N strings -> float32 [N, dim], unit rows."""
        if isinstance(texts, str):
            raise InputError("embed_texts takes a list of strings, not one string")
        out = []
        for s in range(0, len(texts), self.batch_size):
            inputs = self.text_inputs(texts[s : s + self.batch_size])
            with torch.inference_mode():
                feats = _pooled(self._model.get_text_features(**inputs))
            out.append(feats.float().cpu())
        if not out:
            return torch.zeros(0, self.dim)
        return torch.nn.functional.normalize(torch.cat(out), dim=-1)

    def __repr__(self) -> str:
        return f"ClipEmbedder({self.model_id!r}, family={self.family}, dim={self.dim}, device={self.device})"


def _pooled(out: Any) -> torch.Tensor:
    """transformers 5 returns a ModelOutput with the projected features in ``pooler_output``."""
    if isinstance(out, torch.Tensor):
        return out
    return out.pooler_output


def _projection_dim(config: Any) -> int:
    dim = getattr(config, "projection_dim", None)
    if dim is None:  # SigLIP: no projection, the pooled vision hidden size
        dim = config.vision_config.hidden_size
    return int(dim)


def _load(model_id: str) -> tuple[Any, Any, Any, str]:
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer, CLIPModel, SiglipModel

    try:
        config = AutoConfig.from_pretrained(model_id)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot load embedder model {model_id!r}: {e}. Pass a local directory with a CLIP/SigLIP "
            "checkpoint, or allow downloads from the Hugging Face hub."
        ) from None
    family = str(getattr(config, "model_type", ""))
    if family not in _FAMILIES:
        raise ModelError(
            f"embedder model {model_id!r} is a {family!r} model; the clip embedder needs one of "
            f"{', '.join(_FAMILIES)} (a CLIP-style image-text dual encoder)"
        )
    if family == "clip":
        model = CLIPModel.from_pretrained(model_id)
    elif family == "siglip":
        model = SiglipModel.from_pretrained(model_id)
    else:
        from transformers import AutoModel

        model = AutoModel.from_pretrained(model_id)
    try:
        image_processor = AutoImageProcessor.from_pretrained(model_id)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
    except (OSError, ValueError) as e:
        raise ModelError(f"embedder model {model_id!r} lacks its image processor or tokenizer: {e}") from None
    return model, image_processor, tokenizer, family
