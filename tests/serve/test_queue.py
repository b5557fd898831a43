"""The model worker's queue, on a real uvicorn server in this process with a scripted model
whose ``generate`` waits for the test: a full queue answers 503 with ``Retry-After`` and loses
no admitted request; a client that goes away (plain or streaming) has its queued work
dropped, so the model never answers it; a request that crashes is a 500 and the next one is
answered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.serve.conftest import Media, free_port
from tests.serve.inprocess import chat_body, fake_client, fake_settings
from videopipe.serve.app import create_app
from videopipe.testing.fake_model import FakeVideoLLM


class GatedFake(FakeVideoLLM):
    """``generate`` blocks until ``gate`` is set; ``crash`` in the question raises a bug."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.questions: list[str] = []

    def generate(self, tokens: Any, question: str, **kw: Any) -> str:
        if "crash" in question:
            raise RuntimeError("a bug in the model: /secret/path/weights.bin")
        self.questions.append(question)
        self.waiting.set()
        assert self.gate.wait(60)
        return super().generate(tokens, question, **kw)


@pytest.fixture
def live(media: Media, tmp_path: Path) -> Iterator[tuple[str, GatedFake, Any]]:
    model = GatedFake()
    app = create_app(fake_settings(tmp_path, allow_dirs=(media.allowed,), max_queue=2), model=model)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", model, app.state.worker
    model.gate.set()
    server.should_exit = True
    thread.join(10)


def _until(cond: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_full_queue_is_503_with_retry_after_and_loses_nothing(live: tuple, media: Media) -> None:
    url, model, worker = live
    post = lambda q, v="red.mp4": httpx.post(  # noqa: E731
        url + "/v1/chat/completions", json=chat_body(v, q), timeout=60
    )
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(post, "first red?")
        _until(model.waiting.is_set)  # on the model
        second = pool.submit(post, "second blue?", "blue.mp4")
        _until(lambda: worker.in_flight == 2)  # decoded (or decoding), waiting for the model
        full = post("third?")
        assert full.status_code == 503
        assert int(full.headers["retry-after"]) >= 1
        assert (
            full.json()["error"]["type"] == "overloaded_error"
            and full.json()["error"]["code"] == "queue_full"
        )
        model.gate.set()
        answers = [first.result(), second.result()]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["choices"][0]["message"]["content"] for a in answers] == [
        "The screen is red.",
        "The screen is blue.",
    ]
    assert post("fourth?").status_code == 200  # room again
    assert model.questions == ["first red?", "second blue?", "fourth?"]
    assert worker.counters.refused == 1 and worker.in_flight == 0


def test_a_client_that_goes_away_cancels_its_queued_work(live: tuple, media: Media) -> None:
    url, model, worker = live
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            httpx.post, url + "/v1/chat/completions", json=chat_body("red.mp4", "kept?"), timeout=60
        )
        _until(model.waiting.is_set)
        # a plain request that gives up while it waits for the model
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/v1/chat/completions", json=chat_body("blue.mp4", "gone?"), timeout=2.0)
        # noticed within a poll: its place is free again (the poll frees the place, then the
        # cancelled task counts itself: wait for both, on a loaded machine they are apart)
        _until(lambda: worker.in_flight == 1 and worker.counters.cancelled == 1)
        # a streaming one that reads its first event (it is decoded) and hangs up
        with httpx.stream(
            "POST",
            url + "/v1/chat/completions",
            json=chat_body("green.mp4", "gone too?", stream=True),
            timeout=30,
        ) as r:
            assert r.status_code == 200
            first_event = next(r.iter_lines())
            assert first_event.startswith("data: ") and '"role":"assistant"' in first_event
        # both cancelled; the first is still on the model
        _until(lambda: worker.in_flight == 1 and worker.counters.cancelled == 2)
        model.gate.set()
        assert first.result().status_code == 200
    _until(lambda: worker.in_flight == 0)
    assert model.questions == ["kept?"]  # the model never answered the two that left
    assert worker.counters.model_stage_runs == 1


def test_a_crash_is_500_without_details_and_the_next_request_is_answered(
    media: Media, tmp_path: Path
) -> None:
    model = GatedFake()
    model.gate.set()
    with fake_client(tmp_path, model=model, allow_dirs=(media.allowed,)) as c:
        r = c.post("/v1/chat/completions", json=chat_body("red.mp4", "crash now"))
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["type"] == "server_error" and "RuntimeError" in err["message"]
        assert "/secret/path" not in r.text and "Traceback" not in r.text
        stream = c.post("/v1/chat/completions", json=chat_body("red.mp4", "crash in a stream", stream=True))
        assert stream.status_code == 200 and '"type": "server_error"' in stream.text
        assert "/secret/path" not in stream.text and "[DONE]" not in stream.text
        ok = c.post("/v1/chat/completions", json=chat_body("red.mp4", "fine?"))
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "The screen is red."
        assert c.app.state.worker.in_flight == 0
