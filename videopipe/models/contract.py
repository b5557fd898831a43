"""The model contract: everything the pipeline, the token cache and the compressors may rely on
in a video LLM, and all an adapter has to implement, in one file to read. A leaf of
``videopipe/models/``: it imports nothing from ``videopipe.models``. The records and the
protocol live in the core (``videopipe.model_records``, ``videopipe.protocols``), because the
core's own modules use them; this module re-exports them.

* :class:`ModelFacts` -- what the CPU stage (sampling, decoding, the cache key) needs to know
  about a model, without its weights.
* :class:`ModelGeometry` -- the facts and the resize rule, read once from a checkpoint's files.
* :class:`EncodedLayout` -- where every token sat in the uncompressed prompt (units of frames,
  their grids, the clips); travels as ``VisualTokens.layout``.
* :class:`GenerationOptions` -- how an answer is generated (``generate``, ``generate_stream``).
* :class:`Generation` -- what one answer cost (``VideoLLM.last_generation``).
* :class:`Turn` -- an earlier message of a conversation (``generate_stream``'s ``history``).
* :class:`VideoLLM` -- the one protocol a model implements. Optional abilities have a default
  there (subclass the protocol to inherit them), so callers never probe with ``getattr``.
* :class:`ModelFactory` -- what a ``MODELS`` registry entry is: a callable that builds the
  model, plus ``read_geometry`` for pipelines that decode without loading it.
"""

from __future__ import annotations

from typing import Any, Protocol

from videopipe import model_records
from videopipe.model_records import (  # noqa: F401 (re-exported: model_records.__all__)
    LAYOUT_VERSION,
    ClipLayout,
    EncodedLayout,
    Generation,
    GenerationOptions,
    ModelFacts,
    ModelGeometry,
    Turn,
    clips_of_units,
)
from videopipe.protocols import VideoLLM

__all__ = [*model_records.__all__, "ModelFactory", "VideoLLM", "model_facts"]


def model_facts(model: VideoLLM) -> ModelFacts:
    """The facts of a loaded model (``model.facts()``)."""
    return model.facts()


class ModelFactory(Protocol):
    """What a ``MODELS`` registry entry is (an adapter class, typically).

    ``factory(model_id, device=..., dtype=..., frames_per_batch=...)`` builds the model:
    ``model_id`` None means the entry's default; ``load_model`` always passes ``device`` and
    ``dtype`` (``"auto"``, ``"cpu"``, ``"cuda:N"``; ``"auto"``, ``"float32"``, ...) and
    ``frames_per_batch`` (frames per vision-tower batch), which a model may ignore but must
    accept. The model spec ``"NAME"`` or ``"NAME:ID"`` (``PipelineConfig.model``, ``--model``)
    creates entry NAME with model_id ID. ``read_geometry(model_id)`` gives the built model's
    :class:`ModelGeometry` (its facts and its resize rule) without building it (no weights), for
    pipelines that sample and decode without the model; ``read_facts`` its facts. A
    :class:`VideoLLM` subclass that declares only ``read_facts`` gets ``read_geometry`` from it
    (frames decoded at the size the pipeline chose). ``model_types``: the transformers ``model_type`` values whose checkpoints
    it loads (what ``load_model(path)`` picks the entry by); empty for an entry that loads no
    transformers checkpoint."""

    model_types: tuple[str, ...]

    def __call__(self, model_id: str | None = None, **options: Any) -> VideoLLM: ...

    def read_geometry(self, model_id: str | None = None) -> ModelGeometry: ...

    def read_facts(self, model_id: str | None = None) -> ModelFacts: ...
