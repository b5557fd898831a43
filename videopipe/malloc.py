"""The C allocator's settings for running models on the CPU (glibc only).

torch takes a CPU tensor's memory from the C library's ``malloc``. glibc serves a large block
(above ``M_MMAP_THRESHOLD``: 128 KB, rising to at most 32 MB with the sizes freed) with a fresh
``mmap`` and unmaps it again when it is freed, so every large activation of a vision tower (a
16-frame SigLIP batch makes 25-100 MB ones, a dozen a layer) costs the kernel page faults and
zeroed pages, each time. :func:`tune_malloc` raises the mmap threshold and the trim threshold
so that such blocks come from the heap and are reused. Measured on SmolVLM2-500M at real size
(``benchmarks/results/malloc.md``, three rounds taking turns): its vision tower's encode of 16
frames 14.2 -> 12.9 s (1.10x, faster in every pair), the whole ``ask`` process 33.6 -> 31.2 s
(1.07x); it changes where memory comes from, not what is computed. The price: memory a finished stage
freed stays with the process for the next one instead of going back to the system, which
raised the ``ask`` process's peak RSS from 2.65 to 3.06 GB (medians).

Called by :func:`videopipe.models.load_model`, so every process that runs a model has it; ``VIDEOPIPE_TUNE_MALLOC=0`` leaves the
allocator as it is. Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["ENV", "tune_malloc"]

#: set to 0 to leave the C allocator's settings alone
ENV = "VIDEOPIPE_TUNE_MALLOC"
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: the largest value mallopt takes (an int): 2 GiB, above any single tensor of the CPU models
_LIMIT = 2**31 - 1


@functools.cache
def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); whether it did."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _LIMIT)) and bool(mallopt(_M_TRIM_THRESHOLD, _LIMIT))
