"""Run the installed ``videopipe`` console script as users do, with this checkout's code first."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_installed(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """``videopipe ARGS`` through the installed console script (this checkout first on the path)."""
    exe = shutil.which("videopipe")
    assert exe, "the videopipe console script is not installed"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=timeout_s)
