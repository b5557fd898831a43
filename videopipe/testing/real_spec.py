"""One published checkpoint as data (:class:`RealSpec`); the specs themselves are
:mod:`videopipe.testing.real_configs`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["RealSpec"]

_HF = "https://huggingface.co"


@dataclass(frozen=True)
class RealSpec:
    """One published checkpoint: its architecture, processor settings and vocabulary.

    ``config``: the top-level ``config.json`` keys (with ``text_config`` / ``vision_config``);
    ``processor``: keyword arguments of the family's image/video processors and processor;
    ``specials``: token id -> special token, at the checkpoint's ids; ``base_vocab``: the
    tokenizer's vocabulary before its added tokens; ``tokens_per_frame``: the published count
    at ``frame_px`` (per frame pair for Qwen); ``sources``: what -> the file it was read from."""

    name: str
    hub_id: str
    family: str
    config: dict[str, Any]
    processor: dict[str, Any]
    specials: dict[int, str]
    base_vocab: int
    frame_px: int
    tokens_per_frame: int
    video_mme: float | None = None  # Video-MME w/o subtitles, from the model card
    sources: dict[str, str] = field(default_factory=dict)

    def files(self, *names: str) -> dict[str, str]:
        return {n: f"{_HF}/{self.hub_id}/blob/main/{n}" for n in names}


def _published(
    spec: RealSpec,
    *files: str,
    mme: float | None,
    mme_source: str | None = None,
    notes: dict[str, str] | None = None,
) -> RealSpec:
    """``spec`` with its Video-MME score and its sources: the hub ``files`` its numbers were read
    from, then ``notes`` (what -> where, for numbers no file holds), then the score's source (the
    model card unless ``mme_source``)."""
    sources = {**spec.files(*files), **(notes or {})}
    sources["Video-MME"] = mme_source or f"{_HF}/{spec.hub_id}"
    return replace(spec, video_mme=mme, sources=sources)
