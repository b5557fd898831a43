"""Load a video LLM from a model spec: a hub id or local path (the family is read from its
config), or the name of a ``MODELS`` entry (``"NAME"`` or ``"NAME:ID"``).

``load_model("Qwen/Qwen2.5-VL-7B-Instruct")`` -> the Qwen2.5-VL adapter (a
:class:`~videopipe.models.contract.VideoLLM`). The top of ``models/``: it uses the registry,
which names the adapters, which build on ``base.py``, which implements ``contract.py``; nothing
below imports it. Device and dtype handling: :mod:`videopipe.models.checkpoint`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.errors import ModelError

# public names that lived here before checkpoint.py held them (imports keep working)
from videopipe.models.checkpoint import (
    check_hub_access,
    load_processor,
    read_config,
    resolve_device,
    resolve_dtype,
)
from videopipe.settings import default_frames_per_batch

if TYPE_CHECKING:
    from videopipe.models.contract import ModelFacts, ModelGeometry, VideoLLM

__all__ = [
    "load_model",
    "read_model_facts",
    "read_model_geometry",
    "resolve_model_spec",
    "detect_family",
    "supported_families",
    "check_hub_access",
    "load_processor",
    "read_config",
    "resolve_device",
    "resolve_dtype",
]


def supported_families() -> dict[str, tuple[str, ...]]:
    """registry name -> the transformers ``model_type`` values it loads (entries that load no
    transformers checkpoint, such as scripted stand-ins, are left out)."""
    from videopipe.registry import MODELS

    fams = {name: tuple(MODELS.get(name).model_types) for name in MODELS.names()}  # type: ignore[attr-defined]
    return {name: types for name, types in fams.items() if types}


def _families_hint() -> str:
    fams = supported_families()
    return "supported families: " + ", ".join(f"{k} (model_type {'/'.join(v)})" for k, v in fams.items())


def detect_family(model_id: str) -> str:
    """The registry name of the adapter for ``model_id``, from its config's ``model_type``."""
    model_type = getattr(read_config(model_id, unknown_type_hint=_families_hint()), "model_type", None)
    for name, types in supported_families().items():
        if model_type in types:
            return name
    raise ModelError(
        f"{model_id} is a {model_type!r} model, which videopipe has no adapter for; {_families_hint()}"
    )


def resolve_model_spec(spec: str | os.PathLike[str]) -> tuple[str, str | None]:
    """(MODELS entry, model_id) for a model spec.

    An existing local path, or a name that is no ``MODELS`` entry, is a checkpoint: its family
    is read from its config. ``"NAME"`` is entry NAME with its default model_id; ``"NAME:ID"``
    is entry NAME with model_id ID."""
    from videopipe.registry import MODELS

    text = str(spec)
    if not Path(text).expanduser().exists():
        name, _, rest = text.partition(":")
        if name in MODELS:
            return name, rest or None
    return detect_family(text), text


def load_model(
    model_id_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    frames_per_batch: int | None = None,
    quantize: str = "none",
    vision_merge: int = 0,
    quantize_store: str | os.PathLike[str] | None = None,
) -> VideoLLM:
    """Load the model of a spec (hub id, local directory, or ``MODELS`` entry; see
    :func:`resolve_model_spec`) and wrap it in its adapter.

    Default model: ``videopipe.config.DEFAULT_MODEL``. ``frames_per_batch`` bounds how many
    frames go through the vision tower at once (memory; default
    :func:`videopipe.settings.default_frames_per_batch`: 16, or 4 under ``quantize="int8"``).
    ``quantize`` (``auto``, ``int8-weights``, ``int8``; the pipeline's default is ``auto``, a
    plain load here is the checkpoint as published) and ``vision_merge`` (ToMe tokens merged per
    vision-tower layer) are the CPU speed options of transformers checkpoints (docs/models.md). ``quantize_store``: a folder where the language
    model's int8 weights are kept between processes (``videopipe.models.quantize_store``)."""
    from videopipe.config import DEFAULT_MODEL
    from videopipe.malloc import tune_malloc
    from videopipe.registry import MODELS

    tune_malloc()  # large CPU blocks reused from the heap, not mapped anew (videopipe.malloc)
    name, model_id = resolve_model_spec(model_id_or_path if model_id_or_path is not None else DEFAULT_MODEL)
    transformers = name in supported_families()
    # quantize "auto" asks for whatever suits the device: an entry that loads no transformers
    # checkpoint takes none, silently; an explicit mode or merge there is refused
    if not transformers and (quantize not in ("none", "auto") or vision_merge):
        raise ModelError(
            f"--quantize / --vision-merge apply to transformers checkpoints; the model entry {name!r} "
            "loads none (use --quantize none --vision-merge 0)"
        )
    if frames_per_batch is None:
        frames_per_batch = default_frames_per_batch(quantize)
    speed = (
        {"quantize": quantize, "vision_merge": vision_merge, "quantize_store": quantize_store}
        if transformers
        else {}
    )
    return MODELS.create(
        name, model_id=model_id, device=device, dtype=dtype, frames_per_batch=frames_per_batch, **speed
    )


def read_model_geometry(spec: str | os.PathLike[str]) -> ModelGeometry:
    """The :class:`~videopipe.models.contract.ModelGeometry` of the model of ``spec`` (hub id,
    local directory or ``MODELS`` entry) from its config and processor files only, no weights:
    its facts and its resize rule (``decode_size``), read once (the entry's ``read_geometry``)."""
    from videopipe.registry import MODELS

    name, model_id = resolve_model_spec(spec)
    return MODELS.get(name).read_geometry(model_id)  # type: ignore[no-any-return]


def read_model_facts(spec: str | os.PathLike[str]) -> ModelFacts:
    """The facts of the model of ``spec`` (hub id, local directory or ``MODELS`` entry), from its
    config and processor files only: no weights are loaded."""
    return read_model_geometry(spec).facts
