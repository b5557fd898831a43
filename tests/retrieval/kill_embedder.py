"""An embedder that SIGKILLs its own worker process, for the tests of parallel indexing
(imported by the workers as ``tests.retrieval.kill_embedder:KillingEmbedder``).

It is :class:`~videopipe.testing.embedders.HashTextEmbedder` (the same space and vectors),
except that a clip text containing ``KILLONCE`` kills the process the first time (a marker
file in ``$VIDEOPIPE_TEST_KILL_DIR`` remembers it) and one containing ``KILLALWAYS`` every time:
the death happens mid-video, after the video was decoded and its text read."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import torch

from videopipe.testing.embedders import HashTextEmbedder


class KillingEmbedder(HashTextEmbedder):
    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        joined = " ".join(texts)
        if "KILLALWAYS" in joined:
            _die("always")
        if "KILLONCE" in joined:
            marker = Path(os.environ["VIDEOPIPE_TEST_KILL_DIR"]) / "killed-once"
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                _die("once")
        return super().embed_texts(texts)


def _die(which: str) -> None:
    kills = Path(os.environ["VIDEOPIPE_TEST_KILL_DIR"]) / f"kills-{which}"
    with open(kills, "a") as f:
        f.write(f"{os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)
