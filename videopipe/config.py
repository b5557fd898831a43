"""Typed, frozen pipeline configuration, loaded from / saved to TOML.

With :mod:`videopipe.settings` (the settings every layer needs: cache location, size limit, hub
access), the only module that reads the environment (here: ``VIDEOPIPE_API_KEY``,
``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from videopipe.errors import ConfigError, file_problem

# the settings every layer needs live in the core (videopipe.settings); re-exported here, where
# they were first defined, so imports of them from videopipe.config keep working
from videopipe.settings import (
    MAX_SIZE_PX,
    QUANTIZE_MODES,
    check_size_px,
    default_cache_dir,
    hub_offline,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_MODEL = "HuggingFaceTB/SmolVLM2-2.2B-Instruct"
RECOMMENDED_GPU_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
#: what ``ask`` uses on a machine without a usable CUDA GPU when neither ``--model`` /
#: ``--num-frames`` nor the config file name them: chosen by measurement, the best published
#: Video-MME among the models that answer the first question about a 1-hour 720p video on 2 CPU
#: cores about as fast as the target (docs/models.md "The CPU default",
#: benchmarks/results/real_size.md). A GPU keeps :data:`DEFAULT_MODEL` and 64 frames.
CPU_DEFAULT_MODEL = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"
CPU_DEFAULT_NUM_FRAMES = 16

_DEVICES = ("auto", "cpu", "cuda")
_DTYPES = ("auto", "float32", "bfloat16", "float16")

__all__ = [
    "CPU_DEFAULT_MODEL",
    "CPU_DEFAULT_NUM_FRAMES",
    "DEFAULT_MODEL",
    "MAX_SIZE_PX",
    "QUANTIZE_MODES",
    "RECOMMENDED_GPU_MODEL",
    "PipelineConfig",
    "check_size_px",
    "config_defaults",
    "default_cache_dir",
    "default_model",
    "env_api_key",
    "hub_offline",
    "machine_defaults",
    "toml_keys",
    "visible_gpu_count",
]


def env_api_key() -> str | None:
    """``$VIDEOPIPE_API_KEY`` (``videopipe serve``'s API key), or None when unset or empty."""
    return os.environ.get("VIDEOPIPE_API_KEY") or None


@dataclass(frozen=True)
class PipelineConfig:
    """Every option of a pipeline run. CLI flags override values loaded from a TOML file."""

    model: str = DEFAULT_MODEL
    sampler: str = "uniform"
    # measured best on coverage, rare-event frames and needle score (docs/compressors.md)
    compressor: str = "progressive[per_frame_budget=0]"
    num_frames: int = 64
    max_visual_tokens: int | None = 2048
    size_px: int = 448
    decode_backend: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    retrieve: int | None = None
    index_dir: str | None = None
    embedder: str | None = None
    max_new_tokens: int = 128
    cache_tokens: bool = True
    cache_dir: str | None = None
    # the video's timed text (subtitles, speech, screen text) given to retrieval and the prompt:
    # "auto" = subtitles + speech when the speech extra is installed (videopipe.text.sources)
    text: str = "auto"
    asr_model: str | None = None
    # subtitles win over speech (no ASR on a subtitled video) unless this is set: then both
    speech_with_subtitles: bool = False
    max_text_tokens: int = 1024
    # CPU speed options (docs/models.md): int8 linear layers (auto: the language model's weights
    # on the CPU); ToMe merging of r tokens per layer inside a SigLIP vision tower (0: off)
    quantize: str = "auto"
    vision_merge: int = 0
    # the prompt's KV cache kept on disk beside the token cache (MB; 0: off), so a second
    # question about the same video in a new process prefills only its question
    # (videopipe.prefix_store); the server keeps its own in memory (serve --kv-cache-mb)
    disk_kv_cache_mb: int = 2048

    def __post_init__(self) -> None:
        from videopipe.validate import field_types

        field_types(self)  # types first: the checks below compare and call string methods
        if self.device not in _DEVICES and not self.device.startswith("cuda:"):
            raise ConfigError(f"device {self.device!r} is not one of {', '.join(_DEVICES)} (or cuda:N)")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype {self.dtype!r} is not one of {', '.join(_DTYPES)}")
        if self.quantize not in QUANTIZE_MODES:
            raise ConfigError(
                f"quantize (--quantize) {self.quantize!r} is not one of {', '.join(QUANTIZE_MODES)}"
            )
        if self.disk_kv_cache_mb < 0:
            raise ConfigError(f"disk_kv_cache_mb must be >= 0 (0: off), got {self.disk_kv_cache_mb}")
        if self.vision_merge < 0:
            raise ConfigError(f"vision_merge (--vision-merge) must be >= 0 (0: off), got {self.vision_merge}")
        check_size_px(self.size_px)  # the model's token size is checked where it is known (Pipeline)
        if self.text.strip().lower() != "auto":
            from videopipe.text.timeline import parse_text_sources

            parse_text_sources(self.text)  # a bad name fails here, with the valid ones
        for name in ("num_frames", "max_new_tokens", "max_text_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_visual_tokens", "retrieve"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be >= 1 (or unset), got {v}")

    def resolved_cache_dir(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

    def with_overrides(self, **overrides: Any) -> PipelineConfig:
        """A copy with every override that is not None applied (unknown keys are an error)."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(f"unknown config option(s) {bad}; valid: {sorted(known)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    # -- TOML ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> PipelineConfig:
        """Read a TOML file; keys may sit at the top level or under ``[pipeline]``."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} {file_problem(p)}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {p} is not valid TOML: {e}") from None
        except OSError as e:
            raise ConfigError(f"config file {p} cannot be read ({e.strerror or e})") from None
        data = data.get("pipeline", data)
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p}: pipeline must be a table of options, got {data!r}")
        known = {f.name: f for f in fields(cls)}
        bad = sorted(set(data) - set(known))
        if bad:
            raise ConfigError(f"{p}: unknown option(s) {bad}; valid: {sorted(known)}")
        try:
            return cls(**data)
        except (TypeError, ConfigError) as e:  # names the key; the file is named here
            raise ConfigError(f"config file {p}: {e}") from None

    def save(self, path: str | Path) -> None:
        lines = ["[pipeline]"]
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            lines.append(f"{f.name} = {_toml_value(v)}")
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def default_model(device: str = "auto") -> str:
    """The model ``ask`` uses when none is named: :data:`DEFAULT_MODEL` where ``device``
    resolves to a CUDA GPU, else :data:`CPU_DEFAULT_MODEL`."""
    return machine_defaults(device).get("model", DEFAULT_MODEL)


def machine_defaults(device: str = "auto") -> dict[str, Any]:
    """The options whose default depends on the machine: ``{}`` where ``device`` (auto: a
    usable CUDA GPU, found without importing torch when there is no NVIDIA device) is a GPU,
    else the CPU default model and frame budget."""
    if device == "cpu":
        on_gpu = False
    elif device.startswith("cuda"):
        on_gpu = True
    else:
        from videopipe.devices import cuda_available

        on_gpu = cuda_available()[0]
    return {} if on_gpu else {"model": CPU_DEFAULT_MODEL, "num_frames": CPU_DEFAULT_NUM_FRAMES}


def toml_keys(path: str | Path) -> set[str]:
    """The option names a config file sets (empty when it cannot be read: loading it reports that)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return set()
    data = data.get("pipeline", data)
    return set(data) if isinstance(data, dict) else set()


def config_defaults() -> dict[str, Any]:
    return {f.name: f.default for f in fields(PipelineConfig) if f.default is not MISSING}


def visible_gpu_count() -> int:
    """CUDA GPUs this process may use, found without importing torch: the entries of
    ``CUDA_VISIBLE_DEVICES`` when set (up to the first invalid one, as CUDA does), else the GPUs
    the NVIDIA driver lists in ``/proc/driver/nvidia/gpus`` (0 without the driver)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        n = 0
        for item in env.split(","):
            item = item.strip()
            if not item or item.startswith("-"):
                break
            n += 1
        return n
    d = Path("/proc/driver/nvidia/gpus")
    return sum(1 for _ in d.iterdir()) if d.is_dir() else 0
