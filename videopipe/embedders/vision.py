"""``vision``: the video LLM's own vision tower as an image embedder (visual similarity).

An image's vector is the mean of the visual tokens the model's vision tower + projector make
for it (``VideoLLM.encode``), L2-normalised. The space is the model's own, so clips indexed
with it are compared with what the LLM will see. There is no text space: queries are images
(:meth:`videopipe.retrieval.search.Retriever.search_image`); ``embed_texts`` raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from videopipe.errors import ConfigError, InputError
from videopipe.protocols import Embedder

if TYPE_CHECKING:
    import torch


class VisionTowerEmbedder(Embedder):
    """Image embedder over a video LLM's vision tower.

    model_id: hub id or local directory of a supported video LLM (see ``videopipe list``);
              None = the default model
    device:   "auto", "cpu" or "cuda[:N]"
    """

    name = "vision"
    modality = "image"

    def __init__(self, model_id: str | None = None, *, device: str = "auto", dtype: str = "auto") -> None:
        from videopipe.config import DEFAULT_MODEL
        from videopipe.models import load_model

        self.model_id = str(model_id) if model_id is not None else DEFAULT_MODEL
        self._llm: Any = load_model(self.model_id, device=device, dtype=dtype)
        self.space = f"vision/{self._llm.family}:{self.model_id}"
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"VisionTowerEmbedder(space={self.space!r})"

    @property
    def dim(self) -> int:
        if self._dim is None:  # known after one (tiny) forward pass
            import torch

            self._dim = int(self.embed_images(torch.zeros(1, 64, 64, 3, dtype=torch.uint8)).shape[1])
        return self._dim

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB -> float32 [N, dim] unit rows (each image encoded alone)."""
        import torch

        from videopipe.types import Frames

        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
            raise InputError(f"embed_images needs a uint8 tensor [N,H,W,3], got {shape}")
        n = images.shape[0]
        clips = [Frames(data=images[i : i + 1], pts_s=[float(i)], indices=[i]) for i in range(n)]
        if not clips:
            return torch.zeros(0, self.dim)
        tokens = self._llm.encode(clips)
        feats = tokens.features.float()
        frame = tokens.frame_idx.to(feats.device)
        sums = torch.zeros(n, feats.shape[1], dtype=feats.dtype, device=feats.device).index_add_(
            0, frame, feats
        )
        counts = torch.bincount(frame, minlength=n).clamp(min=1).to(feats.dtype).unsqueeze(1)
        out = torch.nn.functional.normalize(sums / counts, dim=-1).cpu()
        self._dim = int(out.shape[1])
        return out

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        raise ConfigError(
            f"the vision-tower embedder ({self.space}) has no text space; search it with an image "
            "(Retriever.search_image / `videopipe search --image`), or index with 'text' or 'clip' "
            "to search with words"
        )
