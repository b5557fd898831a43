"""Fixtures for the CLI tests: the installed ``videopipe`` executable, run the way users run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def videopipe_command() -> list[str]:
    """The console script pip installed (what users type), else ``python -m videopipe``."""
    exe = shutil.which("videopipe")
    return [exe] if exe else [sys.executable, "-m", "videopipe"]


def cli_env(**extra: str) -> dict[str, str]:
    """This checkout first on the path (the executable imports videopipe from there), no hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def videopipe() -> Callable[..., Run]:
    def run(
        *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (), timeout: float = 120
    ):
        t0 = time.perf_counter()
        p = subprocess.run(
            [*prefix, *videopipe_command(), *args],
            env=env or cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Run(
            returncode=p.returncode, stdout=p.stdout, stderr=p.stderr, seconds=time.perf_counter() - t0
        )

    return run


@pytest.fixture(scope="session")
def video() -> Path:
    """A 150-frame 160x96 H.264 clip (generated once, cached)."""
    return make_video(scenes_video())


def assert_one_error(r: Run, *needles: str) -> str:
    """Exit 2, exactly one stderr line ``videopipe: error: ...`` holding every needle, no
    internal error; returns the line."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("videopipe: error: "), r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    for needle in needles:
        assert needle in r.err_lines[0], r.err_lines[0]
    return r.err_lines[0]
