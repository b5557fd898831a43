"""videopipe.compressors: visual-token compressors (registry entries are declared here,
lazily, as "module:attr"), and :func:`build` for chained specs like ``"temporal_merge+progressive"``.

Every compressor follows ``videopipe.protocols.Compressor``:
``compressor(tokens, budget, *, query_embedding=None) -> VisualTokens``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from videopipe.errors import ConfigError
from videopipe.registry import COMPRESSORS as _REG

if TYPE_CHECKING:
    from videopipe.protocols import Compressor

_REG.register(
    "none", "videopipe.compressors.none:NoCompression", summary="no compression; errors when over budget"
)
_REG.register(
    "pool", "videopipe.compressors.pool:Pool", summary="per-frame average pooling to a grid (LLaVA-Video)"
)
_REG.register(
    "temporal_merge",
    "videopipe.compressors.temporal_merge:TemporalMerge",
    summary="merge tokens into similar ones of the previous frame; near-duplicate frames first (ToMe/B-VLLM)",
)
_REG.register(
    "progressive",
    "videopipe.compressors.progressive:Progressive",
    summary="first frame whole, later frames add only novel tokens; frames pooled to 64 first (PVC; per_frame_budget=0: native grid, the default)",
)
_REG.register(
    "slowfast",
    "videopipe.compressors.slowfast:SlowFast",
    summary="few slow frames with fine grids, all others coarsely pooled (SlowFast-LLaVA)",
)
_REG.register(
    "divprune",
    "videopipe.compressors.divprune:DivPrune",
    summary="greedy max-min diversity selection (DivPrune)",
)
_REG.register(
    "query",
    "videopipe.compressors.query:QueryGuided",
    summary="tokens most similar to the query embedding + diverse context (PPLLaVA/QuoTA)",
)
_REG.register(
    "segment_merge",
    "videopipe.compressors.segment_merge:SegmentMerge",
    summary="dynamic temporal segments, a budget per segment, temporal + density-peaks merging (FastVID/HoliTom)",
)
_REG.register(
    "static_prune",
    "videopipe.compressors.static_prune:StaticPrune",
    summary="drop tokens unchanged since the previous frame, positions kept (EVS)",
)

__all__ = ["build"]


def build(spec: str, /, **options: Any) -> Compressor:
    """A compressor from a spec: a registry name (``"progressive"``), a name with options
    (``"progressive[per_frame_budget=0]"``, values converted to the option's type, see
    :mod:`videopipe.compressors.spec`), or a chain of those joined by ``+``
    (``"static_prune+segment_merge"``, budget enforced by the last stage).

    ``options`` (None values dropped) configure a single compressor (they override options
    written in the spec); chains take options in the spec only."""
    from videopipe.compressors.spec import option_values, parse_spec

    stages = parse_spec(spec)
    if len(stages) > 1 and any(v is not None for v in options.values()):
        raise ConfigError(
            f"compressor chain {spec!r} takes no keyword options; write them in the spec, "
            "e.g. static_prune[threshold=0.97]+segment_merge"
        )
    made = []
    for name, texts in stages:
        factory = _REG.get(name)  # raises UnknownPluginError listing the valid names
        made.append(_REG.create(name, **{**option_values(name, factory, texts), **options}))
    if len(made) == 1:
        return made[0]
    from videopipe.compressors.chain import Chain

    return Chain(made)
