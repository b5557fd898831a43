"""``videopipe.malloc.tune_malloc``: a freed large block is reused from the heap instead of
being mapped (and faulted in) again; ``VIDEOPIPE_TUNE_MALLOC=0`` leaves the allocator alone.
Each case runs in its own process: the settings are process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_FAULTS = r"""
import json, resource, sys
import numpy as np
from videopipe.malloc import tune_malloc
tuned = tune_malloc() if sys.argv[1] == "tune" else None
faults = []
for _ in range(4):  # allocate, touch and free 64 MB, as a vision tower's activations are
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(64 << 20, dtype=np.uint8)
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"tuned": tuned, "faults": faults}))
"""


def _faults(mode: str, **env: str) -> dict:
    r = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=True,
    )
    return json.loads(r.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_large_block_is_reused_not_faulted_in_again() -> None:
    plain, tuned = _faults("plain"), _faults("tune")
    assert tuned["tuned"] is True
    # glibc unmaps a freed 64 MB block and maps (and faults in) a new one for the next
    assert min(plain["faults"][1:]) > 100, plain
    # tuned, the block stays in the heap: the later rounds touch pages already there
    assert max(tuned["faults"][1:]) * 10 < min(plain["faults"][1:]), (plain, tuned)


def test_turned_off_by_the_environment() -> None:
    off = _faults("tune", VIDEOPIPE_TUNE_MALLOC="0")
    assert off["tuned"] is False
    if sys.platform.startswith("linux"):
        assert min(off["faults"][1:]) > 100, off  # the allocator as glibc set it
