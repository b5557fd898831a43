"""The in-process application for the cheap tests: ``create_app`` with the scripted ``fake``
model under starlette's ``TestClient`` (no sockets, no subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.serve.conftest import SECRET
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
    # the Host a browser sends to a server on localhost (the default "testserver" is refused)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost:8000") as client:
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


def refused(r: Any, status: int, *, code: str | None = None) -> dict[str, Any]:
    """The OpenAI error body of ``r``, checked: its status, its shape, and no secret or traceback."""
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert SECRET not in r.text and "Traceback" not in r.text
    if code is not None:
        assert err["code"] == code
    return err
