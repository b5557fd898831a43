"""One decode per video at a time: two concurrent requests for one uncached video decode it
once (the worker's counters), the second waiting until the first's tokens are in the cache;
the decode threads and the readers' own threads share the cores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.serve.conftest import Media, start_server, stop_server
from tests.serve.inprocess import chat_body, fake_client
from videopipe.testing.fake_model import FakeVideoLLM


class GatedEncode(FakeVideoLLM):
    """``encode`` waits for ``gate`` (the first request holds the model stage meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.encoding = threading.Event()

    def encode(self, frames: Any) -> Any:
        self.encoding.set()
        assert self.gate.wait(60)
        return super().encode(frames)


def _until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_two_requests_for_one_uncached_video_decode_it_once(media: Media, tmp_path: Path) -> None:
    model = GatedEncode()
    with fake_client(tmp_path, model=model, allow_dirs=(media.allowed,)) as c, ThreadPoolExecutor(2) as pool:
        counters = c.app.state.worker.counters
        first = pool.submit(c.post, "/v1/chat/completions", json=chat_body("blue.mp4"))
        _until(model.encoding.is_set, "the first request never reached encode")
        second = pool.submit(c.post, "/v1/chat/completions", json=chat_body("blue.mp4", "Which colour?"))
        _until(lambda: counters.decode_waits >= 1, "the second request did not wait for the first")
        assert counters.videos_decoded == 1  # the first decoded; the second is waiting, not decoding
        model.gate.set()
        a, b = first.result(60), second.result(60)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert counters.videos_decoded == 1 and model.calls["encode"] >= 1
    encodes = model.calls["encode"]
    assert b.json()["videopipe"]["stats"]["cached"] and b.json()["videopipe"]["stats"]["frames_decoded"] == 0
    # a different video is not held up by the flight, and decodes on its own
    with fake_client(tmp_path, model=model, allow_dirs=(media.allowed,)) as c:
        assert c.post("/v1/chat/completions", json=chat_body("green.mp4")).status_code == 200
        assert c.app.state.worker.counters.decode_waits == 0
    assert model.calls["encode"] > encodes


def test_a_failed_first_decode_lets_the_next_request_decode(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        assert c.post("/v1/chat/completions", json=chat_body("broken.mp4")).status_code == 422
        assert c.post("/v1/chat/completions", json=chat_body("broken.mp4")).status_code == 422
        ok = c.post("/v1/chat/completions", json=chat_body("red.mp4"))
        assert ok.status_code == 200 and c.app.state.worker._flights == {}


def test_readers_share_the_cores_with_the_decode_threads(tmp_path: Path) -> None:
    from videopipe.decode.pyav_backend import usable_cores
    from videopipe.serve.worker import reader_workers

    assert reader_workers(2, 16) == 8 and reader_workers(4, 2) == 1 and reader_workers(1, 3) == 3
    server = start_server("--model", "fake", "--device", "cpu", log=tmp_path / "serve.log")
    try:
        health = httpx.get(server.url + "/health", timeout=10).json()
    finally:
        stop_server(server)
    assert health["reader_workers"] == reader_workers(health["decode_threads"], usable_cores())
