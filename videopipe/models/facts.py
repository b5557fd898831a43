"""What the CPU stage of a pipeline needs to know about a model, without its weights.

Sampling and decoding depend on a model only through its token geometry (pixels per visual
token side, frames per temporal unit), whether it encodes clips of different sizes in one
call, and its id (part of the token-cache key). :func:`read_model_facts` reads these from a
checkpoint's config and processor files, so a decode worker never loads the weights;
:func:`model_facts` reads them from a loaded model, and the two agree (the adapters compute
both with the same code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelFacts", "model_facts", "read_model_facts"]


@dataclass(frozen=True)
class ModelFacts:
    """model_id: the id the token cache keys on; token_px: pixels per visual-token side;
    min_frames: frames per temporal unit; mixed_resolution: the model encodes one video's
    clips at different frame sizes (else every clip is decoded at the smallest size)."""

    model_id: str
    token_px: int
    min_frames: int
    mixed_resolution: bool


def model_facts(model: Any) -> ModelFacts:
    """The facts of a loaded model (an adapter or any ``VideoLLM``-like object)."""
    return ModelFacts(
        model_id=str(getattr(model, "model_id", type(model).__name__)),
        token_px=int(getattr(model, "token_px", 28)),
        min_frames=int(getattr(model, "min_frames", 1)),
        mixed_resolution=takes_clip_list(model) or bool(getattr(model, "mixed_resolution", False)),
    )


def takes_clip_list(model: Any) -> bool:
    """videopipe's transformers adapters encode a list of clips (of different sizes) in one
    call; other VideoLLM objects get one ``encode`` call per clip size."""
    try:
        from videopipe.models.base import VideoLLM
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, VideoLLM)


def read_model_facts(model_id: str) -> ModelFacts:
    """The facts of the checkpoint ``model_id`` (hub id or local directory), from its config
    and processor files only: no weights are loaded."""
    from videopipe.models.loading import detect_family
    from videopipe.registry import MODELS

    adapter = MODELS.get(detect_family(model_id))
    return adapter.read_facts(model_id)  # type: ignore[attr-defined]
