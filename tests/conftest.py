"""Shared fixtures: real media in ../shared/media, generated videos, marker handling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # pragma: no cover
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (none found)")
    skip_net = pytest.mark.skip(reason="needs the Hugging Face hub; set VIDEOPIPE_NETWORK=1 to run")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "network" in item.keywords and os.environ.get("VIDEOPIPE_NETWORK") != "1":
            item.add_marker(skip_net)


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The real test clips (../shared/media); tests that need them skip when absent."""
    if not MEDIA.is_dir():
        pytest.skip(f"real test media not found at {MEDIA} (see shared/media/README.md)")
    return MEDIA


def media_file(name: str) -> Path:
    p = MEDIA / name
    if not p.is_file():
        pytest.skip(f"real test clip {p} not found (see shared/media/README.md)")
    return p


@pytest.fixture(scope="session", autouse=True)
def _video_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generated videos go to $VIDEOPIPE_CACHE when set (reused across runs), else a
    per-session temp dir."""
    if not os.environ.get("VIDEOPIPE_CACHE"):
        os.environ["VIDEOPIPE_CACHE"] = str(tmp_path_factory.mktemp("videopipe-cache"))
