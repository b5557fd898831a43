"""Fixtures of the text-stage tests: generated videos whose speech and screen text are known,
and the real models (faster-whisper tiny.en from the speech extra, rapidocr from the ocr extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import videopipe  # noqa: F401 - the installed executable, as a fixture
from videopipe.testing.speech import SpeechScript, make_speech_video, short_script
from videopipe.testing.subtitled import make_tiny_video


@pytest.fixture(scope="session")
def spoken() -> tuple[Path, SpeechScript]:
    """40 s, four sentences over low noise, a 1 fps 96x64 video track."""
    return make_speech_video(short_script(), duration_s=40.0, noise=0.003)


@pytest.fixture(scope="session")
def silent() -> Path:
    """20 s of digital silence with a video track."""
    return make_speech_video([], duration_s=20.0)[0]


@pytest.fixture(scope="session")
def noisy() -> Path:
    """20 s of low white noise and no speech."""
    return make_speech_video([], duration_s=20.0, noise=0.01)[0]


@pytest.fixture(scope="session")
def no_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_video(tmp_path_factory.mktemp("noaudio") / "mute.mp4", duration_s=5.0)


@pytest.fixture(scope="session")
def asr_model() -> str:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    from videopipe.text.speech import default_asr_model

    return str(default_asr_model())
