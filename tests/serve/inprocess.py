"""The in-process application for the cheap tests: ``create_app`` with the scripted ``fake``
model under starlette's ``TestClient`` (no sockets, no subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from videopipe.config import PipelineConfig
from videopipe.serve.app import create_app
from videopipe.serve.settings import ServeSettings
from videopipe.testing.fake_model import FakeVideoLLM


def fake_settings(cache_dir: Path, **kw: Any) -> ServeSettings:
    config = kw.pop("config", None) or PipelineConfig(
        model="fake", device="cpu", num_frames=8, size_px=112, cache_dir=str(cache_dir)
    )
    return ServeSettings(config=config, **kw)


@contextmanager
def fake_client(cache_dir: Path, *, model: Any = None, **kw: Any) -> Iterator[TestClient]:
    app = create_app(fake_settings(cache_dir, **kw), model=model or FakeVideoLLM())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def chat_body(video: str, question: str = "What colour is the screen?", **kw: Any) -> dict[str, Any]:
    return {
        "model": "fake",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": video}},
                    {"type": "text", "text": question},
                ],
            }
        ],
        **kw,
    }
