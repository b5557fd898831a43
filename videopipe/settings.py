"""The settings every layer needs: where caches live, the largest decode size, whether the hub
may be reached. A ground floor: it imports nothing from videopipe but ``errors``, so the core
(``types.py``), the decoders, the text cache and the models read them without importing the
pipeline's configuration (``videopipe.config`` re-exports them).

With ``config.py`` the only module that reads the environment (``VIDEOPIPE_CACHE``,
``XDG_CACHE_HOME``, ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``).
"""

from __future__ import annotations

import os
from pathlib import Path

from videopipe.errors import ConfigError

__all__ = [
    "FRAMES_PER_BATCH",
    "MAX_SIZE_PX",
    "QUANTIZE_MODES",
    "check_size_px",
    "default_frames_per_batch",
    "default_cache_dir",
    "hub_offline",
    "quantizes_vision",
    "resolve_quantize",
]

#: The largest decode size (``size_px``, ``--size``: the shorter side of a frame) accepted.
#: 4K UHD is 2160 px on its shorter side, and one 4096-px 16:9 frame is already 84 MB of RGB
#: and about 38,000 visual tokens at 28 px per token, more than a supported model takes for a
#: whole video; far beyond it the decoders' scalers fail (``--size 20000``: swscale EINVAL).
MAX_SIZE_PX = 4096

#: Frames per vision-tower batch (``load_model(frames_per_batch=)``). Measured on the CPU at real
#: size (benchmarks/results/vision_batch.md, 2026-12-07): 16 encodes as fast as 32 or faster
#: (SmolVLM2-500M 1.05 against 1.11 s a frame, SmolVLM2-2.2B 2.76 against 2.86) and holds less
#: (peak RSS 1.83 against 2.09 GB, 2.45 against 2.61); smaller batches save more memory on the
#: 500M (4: 1.32 GB) but cost the 2.2B 6-8 %. Not measured on a GPU, where 16 frames of 700 or
#: more patches each still make one large batch.
FRAMES_PER_BATCH = 16

#: Frames per vision-tower batch when the tower runs torch's dynamic int8 layers (``--quantize
#: int8``): they quantize each batch's activations as one float32 tensor, and on the CPU 4 frames
#: a batch encoded the 500M's frames 1.4x faster than 16 (0.82-0.89 against 1.16 s a frame) and
#: held 0.6-0.8 GB less (vision_batch.md, 2026-12-07).
INT8_VISION_FRAMES_PER_BATCH = 4


def default_frames_per_batch(quantize: str) -> int:
    """The vision-tower batch for a model loaded with ``quantize`` (its mode, ``auto`` included):
    :data:`INT8_VISION_FRAMES_PER_BATCH` when the tower runs dynamic int8, else
    :data:`FRAMES_PER_BATCH`."""
    return INT8_VISION_FRAMES_PER_BATCH if quantizes_vision(quantize) else FRAMES_PER_BATCH


def check_size_px(size_px: object, *, token_px: int | None = None, model: str | None = None) -> int:
    """``size_px`` when it is a whole number of pixels from one visual token (``token_px``,
    the model's pixels per token side; None: not known here) to :data:`MAX_SIZE_PX`; else a
    ConfigError that names the option, the value and the allowed range."""
    if not isinstance(size_px, int) or isinstance(size_px, bool):
        raise ConfigError(f"size_px (--size) must be a whole number of pixels, got {size_px!r}")
    if max(1, token_px or 1) <= size_px <= MAX_SIZE_PX:
        return size_px
    if token_px is None:
        low = "one visual token of the model"
    else:
        low = f"{token_px} px (one visual token{f' of {model!r}' if model else ''})"
    raise ConfigError(
        f"size_px (--size) {size_px} is out of range: the shorter side of decoded frames must be "
        f"from {low} to {MAX_SIZE_PX} px"
    )


def default_cache_dir() -> Path:
    """Where generated test videos, token caches and similar are kept.

    ``$VIDEOPIPE_CACHE`` if set, else ``$XDG_CACHE_HOME/videopipe`` or ``~/.cache/videopipe``."""
    env = os.environ.get("VIDEOPIPE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "videopipe"


def hub_offline() -> bool:
    """True when the user told Hugging Face libraries not to reach the hub."""
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes") or os.environ.get(
        "TRANSFORMERS_OFFLINE", "0"
    ).lower() in ("1", "true", "yes")


#: ``quantize`` (``--quantize``, videopipe.models.quantize): ``auto`` (int8-weights on the CPU in
#: bfloat16, none elsewhere), ``none``, ``int8-weights`` (the language model's linear layers hold
#: int8 weights; activations stay in the run dtype) or ``int8`` (that, and torch's dynamic int8
#: layers in the vision tower and the connector)
QUANTIZE_MODES = ("auto", "none", "int8-weights", "int8")


def resolve_quantize(mode: str, device_type: str, dtype: str) -> str:
    """The quantize mode that runs on a ``device_type`` ("cpu", "cuda") device in ``dtype`` (its
    name: "bfloat16", "float32", ...): ``auto`` is ``int8-weights`` on the CPU in bfloat16, where
    decoding is bound by reading the weights and torch's weight-only int8 kernel reads half the
    bytes (measured in docs/models.md "CPU speed options"), and ``none`` elsewhere: on a GPU, and
    on a CPU in float32 (a CPU without native bf16), where that kernel measured 2x slower than
    float32's own matmul."""
    if mode != "auto":
        return mode
    return "int8-weights" if device_type == "cpu" and dtype.removeprefix("torch.") == "bfloat16" else "none"


def quantizes_vision(mode: str) -> bool:
    """Whether ``mode`` changes the vision tower's output (the visual tokens): ``int8`` only."""
    return mode == "int8"
