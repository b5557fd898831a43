"""Which device a stage runs on: the one spelling of "auto / cpu / cuda / cuda:N" for decoders,
models and embedders. Answers "no GPU" without importing torch when the machine has no NVIDIA
device node (importing torch costs about 2 CPU-s)."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from videopipe.errors import ConfigError, DeviceError

__all__ = ["cpu_bf16_native", "cpu_flags", "cuda_available", "resolve_device"]

_DEVICES = ("auto", "cpu", "cuda")


def _no_nvidia_device() -> bool:
    """True when this is Linux and there is no NVIDIA device node (nor WSL's GPU node): no
    CUDA GPU can be usable, and we can say so without importing torch (2 CPU-s)."""
    if not sys.platform.startswith("linux"):
        return False
    return not any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg"))


def cuda_available() -> tuple[bool, str]:
    """(whether torch sees a CUDA GPU, why not when it does not)."""
    if "torch" not in sys.modules and _no_nvidia_device():
        return False, "there is no CUDA GPU (this machine has no NVIDIA device: /dev/nvidiactl is missing)"
    try:
        import torch
    except ImportError:  # pragma: no cover - core dependency
        return False, "torch is not installed"
    if not torch.backends.cuda.is_built():
        return False, f"this torch build ({torch.__version__}) has no CUDA support"
    try:
        if torch.cuda.is_available():
            return True, ""
    except Exception as e:  # pragma: no cover
        return False, f"CUDA initialisation failed: {e}"
    return (
        False,
        "torch finds no CUDA GPU (torch.cuda.is_available() is False; check the driver / CUDA_VISIBLE_DEVICES)",
    )


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``flags`` on x86, ``Features`` on Arm) from /proc/cpuinfo;
    empty where there is no such file (not Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


#: flags of CPUs that compute bfloat16 matrix products natively: x86 AVX512-BF16 and AMX-BF16,
#: Arm's BF16 extension
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_bf16_native(flags: frozenset[str] | None = None) -> bool:
    """True when this CPU (or one with ``flags``) computes bfloat16 natively: there a bf16 model
    encodes 1.2-1.9x and prefills 1.5-2.2x faster than float32 (benchmarks/results/cpu_dtype.md);
    elsewhere bf16 is emulated and slower."""
    return bool(_BF16_FLAGS & (cpu_flags() if flags is None else flags))


def resolve_device(device: str, *, purpose: str = "GPU decoding") -> str:
    """'cpu' or 'cuda[:N]' for ``device`` (auto -> cuda when a GPU is usable); ``purpose``
    names what asked, in the error."""
    if not isinstance(device, str) or not (device in _DEVICES or device.startswith("cuda:")):
        raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N")
    if device == "cpu":
        return "cpu"
    ok, why = cuda_available()
    if device == "auto":
        return "cuda" if ok else "cpu"
    if not ok:
        raise DeviceError(f"device={device!r} asked for {purpose}, but {why}; use device='cpu' or 'auto'")
    return device
