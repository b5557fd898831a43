"""videopipe.models: video-LLM adapters over transformers.

The ``MODELS`` registry entries are declared lazily ("module:attr") in
:mod:`videopipe.models.entries`, so listing them imports nothing heavy. Use :func:`load_model` to load any supported checkpoint (the family is read from its
config) or any entry by name::

    from videopipe.models import load_model
    llm = load_model("Qwen/Qwen2.5-VL-7B-Instruct")        # or a local directory
    tokens = llm.encode(frames)                            # vision tower + merger
    print(llm.generate(tokens, "What happens?"))           # spliced, positions preserved

What a model must implement, and all the rest of videopipe relies on, is in
:mod:`videopipe.models.contract`. Inside this package dependencies run one way:
this facade -> ``loading`` -> the registry (``entries``) -> adapters (``qwen``,
``frame_models``) -> ``base`` -> ``checkpoint`` (the checkpoint files) -> ``contract``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videopipe.models.contract import ModelFacts, VideoLLM

__all__ = ["load_model", "read_model_facts", "VideoLLM"]


def load_model(model_id_or_path: Any = None, **kwargs: Any) -> VideoLLM:
    """Load a supported video LLM; see :func:`videopipe.models.loading.load_model`."""
    from videopipe.models.loading import load_model as _load

    return _load(model_id_or_path, **kwargs)


def read_model_facts(spec: Any) -> ModelFacts:
    """A model's facts from its files, no weights; see :func:`videopipe.models.loading.read_model_facts`."""
    from videopipe.models.loading import read_model_facts as _read

    return _read(spec)


def __getattr__(name: str) -> Any:
    if name == "VideoLLM":
        from videopipe.models.contract import VideoLLM

        return VideoLLM
    raise AttributeError(f"module 'videopipe.models' has no attribute {name!r}")
