"""videopipe.samplers: registry entries are declared here (lazily, as "module:attr")."""

from videopipe.registry import SAMPLERS as _REG

_REG.register(
    "uniform",
    "videopipe.samplers.uniform:UniformSampler",
    summary="evenly spaced frames (budget/fps/qwen rule), snapped to nearby keyframes",
)
_REG.register(
    "keyframe",
    "videopipe.samplers.keyframe:KeyframeSampler",
    summary="scene cuts (low-res probe + refine) and keyframes, most distinct within budget",
)
_REG.register(
    "keyclip",
    "videopipe.samplers.keyclip:KeyclipSampler",
    summary="F2C key clips: score peaks grown into clips, resolution traded for length",
)
_REG.register(
    "space_aware",
    "videopipe.samplers.space_aware:SpaceAwareSampler",
    summary="Spatial-MLLM greedy maximum coverage of space cells (pluggable provider)",
)
_REG.register(
    "query",
    "videopipe.samplers.query:QuerySampler",
    summary="QuoTA/B-VLLM query-aware: frames by question similarity + temporal coverage",
)
