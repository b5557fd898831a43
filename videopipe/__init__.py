"""videopipe: ask questions about long videos with a video LLM, and search folders of videos.

Public API (imported lazily so that ``import videopipe`` stays fast)::

    from videopipe import open_video, Pipeline, Budget, PipelineConfig
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # data types
    "VideoInfo": "videopipe.types",
    "Frames": "videopipe.types",
    "Clip": "videopipe.types",
    "Selection": "videopipe.types",
    "Budget": "videopipe.types",
    "VisualTokens": "videopipe.types",
    "Hit": "videopipe.types",
    "TextMatch": "videopipe.types",
    "Stats": "videopipe.types",
    "Answer": "videopipe.types",
    # configuration, registries, errors
    "PipelineConfig": "videopipe.config",
    "SAMPLERS": "videopipe.registry",
    "COMPRESSORS": "videopipe.registry",
    "DECODERS": "videopipe.registry",
    "MODELS": "videopipe.registry",
    "EMBEDDERS": "videopipe.registry",
    "EXECUTORS": "videopipe.registry",
    "VideoPipeError": "videopipe.errors",
    # entry points
    "Pipeline": "videopipe.pipeline",
    "open_video": "videopipe.decode",
    "load_timeline": "videopipe.text.build",
    "Timeline": "videopipe.text.timeline",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'videopipe' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
