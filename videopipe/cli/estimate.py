"""Before a long ``ask`` on the CPU: one stderr line estimating its time on this machine, shown
when the estimate exceeds a minute (nobody should wait ten minutes in silence).

Arithmetic, not a measurement of the run: the parameters of the checkpoint's vision tower and
language model (counted from its safetensors headers and ``config.json``; no weights read, torch
not imported), the run's frames, visual tokens and answer length, and rates measured at real
size on the project's 2-core AVX512-BF16 machine (``benchmarks/results/real_size.md``: SmolVLM2,
LLaVA-OneVision 0.5B / 7B and Qwen 2B-7B): the vision tower and the prefill as FLOPs per CPU-second
(divided among this machine's cores), each answer token as the bytes of weights it reads
(memory-bound: the cores do not divide it), the imports and the weights' loading (and, the first
time, quantizing the language model) as seconds. Within 25 % of the measured first and second
questions of those checkpoints; rough by design elsewhere (other work on the machine, another
CPU).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videopipe.config import PipelineConfig

__all__ = ["CpuRates", "RunShape", "estimate_line", "estimate_seconds", "run_shape", "warn_if_long"]

#: show the line when the estimate exceeds this many seconds
LONG_RUN_S = 60.0
_PROMPT_TEXT_TOKENS = 100  # the question, the template and the timestamps around the frames
_QUESTION_TOKENS = 30  # what a question prefills after the prompt's KV cache read from disk


@dataclass(frozen=True)
class RunShape:
    """What one ``ask`` computes: parameters of the vision tower (run per frame over
    ``patches_per_frame`` patches), of the language model's layers (``text_params``: neither the
    embedding table nor the output head) and of its output head (``head_params``: ``lm_head``, or
    the embedding table it is tied to; read once per new token), frames, prompt tokens to
    prefill, new tokens, and the bytes of weights loaded."""

    vision_params: int
    text_params: int
    patches_per_frame: int
    frames: int
    prompt_tokens: int
    new_tokens: int
    weight_bytes: int
    head_params: int = 0


@dataclass(frozen=True)
class CpuRates:
    """Rates of ``ask`` at real size on the project's 2-core AVX512-BF16 machine, in bfloat16
    with the language model's int8 weights (the defaults there), measured 2026-12-07 with
    ``benchmarks/real_size.py`` (16 frames of a 1-hour 720p video) on SmolVLM2-500M,
    LLaVA-OneVision 0.5B / 7B, Qwen3-VL 2B / 4B and Qwen2.5-VL 3B / 7B:

    - the vision tower 1.3-1.7e11 FLOPs per CPU-second, the prefill 1.1-2.0e11 (more for larger
      matrices);
    - an answer token reads the language model's weights once (int8: a byte a parameter, the
      bf16 output head two) at about 15 GB/s, plus about 20 ms of per-step overhead
      (SmolVLM2-500M 45 ms, Qwen2.5-VL 7B 510 ms a token);
    - the imports about 6 s (one core); reading the weights about 0.3 s per GB; quantizing the
      language model the first time (its int8 weights are then kept on disk) about 3.5 s per GB
      of its bf16 weights;
    - decoding a frame of the 1-hour 720p H.264 file about 0.25 CPU-seconds.

    A CPU without native bf16 runs float32: about half the FLOPs per second, and 4 bytes a
    parameter per token (its int8 weights stay off)."""

    vision_flops: float = 1.3e11
    prefill_flops: float = 1.6e11
    token_bytes_per_s: float = 1.5e10
    token_overhead_s: float = 0.02
    decode_s_per_frame: float = 0.25
    startup_s: float = 6.0
    load_s_per_gb: float = 0.3
    quantize_s_per_gb: float = 3.5
    #: float32 (a CPU without native bf16) does about half the work per second
    no_bf16_factor: float = 0.5


def estimate_seconds(
    shape: RunShape,
    *,
    cores: int,
    bf16_native: bool = True,
    int8_weights: bool | None = None,
    quantizes: bool = False,
    rates: CpuRates = CpuRates(),
) -> float:
    """Wall seconds of the run ``shape`` on ``cores`` otherwise idle cores. ``int8_weights``: the
    language model runs with int8 weights (default: where ``--quantize auto`` gives them, a bf16
    CPU); ``quantizes``: it quantizes them in this run (the first run of a checkpoint)."""
    speed = 1.0 if bf16_native else rates.no_bf16_factor
    if int8_weights is None:
        int8_weights = bf16_native
    layer_bytes = 1 if int8_weights else (2 if bf16_native else 4)
    head_bytes = 2 if bf16_native else 4
    parallel_cpu_s = (
        rates.decode_s_per_frame * shape.frames
        + 2.0 * shape.vision_params * shape.patches_per_frame * shape.frames / (rates.vision_flops * speed)
        + 2.0 * shape.text_params * shape.prompt_tokens / (rates.prefill_flops * speed)
    )
    token_s = (
        rates.token_overhead_s
        + (shape.text_params * layer_bytes + shape.head_params * head_bytes) / rates.token_bytes_per_s
    )
    load_s = rates.load_s_per_gb * shape.weight_bytes / 1e9
    if quantizes and int8_weights:
        load_s += rates.quantize_s_per_gb * 2 * (shape.text_params + shape.head_params) / 1e9
    return rates.startup_s + load_s + parallel_cpu_s / max(1, cores) + shape.new_tokens * token_s


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_line(seconds: float, *, frames: int, cores: int) -> str | None:
    """The line to show before a run estimated at ``seconds``; None when it is not long."""
    if seconds <= LONG_RUN_S:
        return None
    return (
        f"videopipe: this question will take about {_duration(seconds)} on this machine "
        f"({frames} frames on {cores} CPU core{'s' if cores != 1 else ''}; a rough estimate); "
        "fewer --num-frames or a smaller --model answer sooner"
    )


# -- the shape of a run, from the checkpoint's files -------------------------------------------
def _checkpoint_files(model: str) -> tuple[dict | None, list[Path]]:
    """(config.json as a dict, the safetensors files) of a local directory or of a hub id
    already in the Hugging Face cache; (None, []) when they are not on this machine."""
    root = Path(model).expanduser()
    if root.is_dir():
        cfg = root / "config.json"
        return (json.loads(cfg.read_text()) if cfg.is_file() else None), sorted(root.glob("*.safetensors"))
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a transformers dependency
        return None, []
    cfg = try_to_load_from_cache(model, "config.json")
    if not isinstance(cfg, str):
        return None, []
    snapshot = Path(cfg).parent
    return json.loads(Path(cfg).read_text()), sorted(snapshot.glob("*.safetensors"))


def _header(path: Path) -> dict:
    """The tensor table of a safetensors file (its JSON header; no tensor data read); a
    ValueError when the file is not one (its header length is out of range)."""
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        # a damaged file's first bytes can name any length: never read past the file (or
        # allocate for it); such a file is left to the weight loader to report
        if not 2 <= n <= min(path.stat().st_size - 8, _MAX_HEADER):
            raise ValueError(f"{path}: not a safetensors header")
        return json.loads(f.read(n))


#: safetensors caps its JSON header at 100 MB
_MAX_HEADER = 100_000_000


_VISION = ("vision", "visual", "connector", "multi_modal_projector")


def run_shape(cfg: PipelineConfig, *, video_frames: int | None = None) -> RunShape | None:
    """The :class:`RunShape` of ``ask`` with ``cfg`` (``video_frames``: the video's frame
    count, which caps the frames); None when the checkpoint's files are not on this machine."""
    config, files = _checkpoint_files(cfg.model)
    if config is None or not files:
        return None
    vision = text = head = embed = nbytes = 0
    for f in files:
        for name, t in _header(f).items():
            if name == "__metadata__":
                continue
            n = 1
            for d in t["shape"]:
                n *= int(d)
            nbytes += n * (2 if t["dtype"] in ("BF16", "F16") else 4)
            if any(k in name for k in _VISION):
                vision += n
            elif "lm_head" in name:
                head += n
            elif "embed_tokens" in name:  # a table lookup costs nothing, unless it is the head too
                embed += n
            else:
                text += n
    vc = config.get("vision_config", {})
    patch = int(vc.get("patch_size", 14))
    if "image_size" in vc:  # SigLIP towers: one fixed square per frame
        patches = (int(vc["image_size"]) // patch) ** 2
    else:  # Qwen: the frame at size_px (16:9), one patch token per temporal_patch_size frames
        patches = int((cfg.size_px / patch) ** 2 * 16 / 9) // int(vc.get("temporal_patch_size", 1))
    merge = int(config.get("scale_factor", vc.get("spatial_merge_size", 2))) ** 2
    frames = min(cfg.num_frames, video_frames) if video_frames else cfg.num_frames
    visual = frames * max(1, patches // merge)
    if cfg.max_visual_tokens is not None:
        visual = min(visual, cfg.max_visual_tokens)
    return RunShape(
        vision_params=vision,
        text_params=text,
        patches_per_frame=patches,
        frames=frames,
        prompt_tokens=visual + _PROMPT_TEXT_TOKENS,
        new_tokens=cfg.max_new_tokens,
        weight_bytes=nbytes,
        head_params=head or embed,  # tied: the output head is the embedding table
    )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def warn_if_long(
    cfg: PipelineConfig, *, video_frames: int | None = None, tokens_cached: bool = False
) -> str | None:
    """Print the estimate line on stderr when ``ask`` with ``cfg`` will run on the CPU for more
    than a minute; returns the line (None when nothing was shown). ``tokens_cached``: the token
    cache holds the video's tokens, so nothing is decoded or encoded (a second question)."""
    import sys

    from videopipe.config import machine_defaults
    from videopipe.devices import cpu_bf16_native
    from videopipe.settings import resolve_quantize

    if cfg.device != "cpu" and not machine_defaults(cfg.device):  # a CUDA GPU runs it
        return None
    try:
        shape = run_shape(cfg, video_frames=video_frames)
    except (OSError, ValueError, KeyError, struct.error):  # unreadable files: loading will say so
        return None
    if shape is None:
        return None
    cores = _cores()
    native = cpu_bf16_native() and cfg.dtype in ("auto", "bfloat16")
    int8 = resolve_quantize(cfg.quantize, "cpu", "bfloat16" if native else "float32") != "none"
    work = shape
    if tokens_cached:  # no decode, no vision tower; the first question stored the int8 weights
        kv_on_disk = cfg.disk_kv_cache_mb > 0  # and the prompt's KV cache: only the question is new
        work = replace(shape, frames=0, prompt_tokens=_QUESTION_TOKENS if kv_on_disk else shape.prompt_tokens)
    seconds = estimate_seconds(
        work, cores=cores, bf16_native=native, int8_weights=int8, quantizes=not tokens_cached
    )
    line = estimate_line(seconds, frames=shape.frames, cores=cores)
    if line is not None:
        print(line, file=sys.stderr, flush=True)
    return line
