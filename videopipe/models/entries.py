"""The ``MODELS`` registry entries, declared lazily ("module:attr"): listing them imports
nothing heavy, and no adapter module is imported until its entry is used.

``videopipe.registry.MODELS`` imports this module the first time it is asked for its names.
Every entry is a :class:`~videopipe.models.contract.ModelFactory`.
"""

from __future__ import annotations

from videopipe.registry import MODELS as _REG

_REG.register(
    "qwen2_5_vl",
    "videopipe.models.qwen:Qwen25VL",
    summary="Qwen2.5-VL: 3-D M-RoPE with absolute time, 2 frames per temporal patch",
)
_REG.register(
    "qwen3_vl",
    "videopipe.models.qwen:Qwen3VL",
    summary="Qwen3-VL: <t seconds> per temporal patch, deepstack features",
)
_REG.register(
    "llava_onevision",
    "videopipe.models.frame_models:LlavaOneVision",
    summary="LLaVA-OneVision / LLaVA-Video: 2x pooled SigLIP tokens per frame",
)
_REG.register(
    "smolvlm",
    "videopipe.models.frame_models:SmolVLM2",
    summary="SmolVLM2: pixel-shuffled SigLIP tokens per frame (the CPU default)",
)
_REG.register(
    "fake",
    "videopipe.testing.fake_model:FakeVideoLLM",
    summary="scripted colour-reading stand-in, no weights (tests, demos); 'fake:STYLE' picks its answer style",
)
