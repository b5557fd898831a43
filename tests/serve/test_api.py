"""The other routes and the error shape, in process with the ``fake`` model: models, health,
search over an index, thumbnails, the video file with range requests, the web page, and
malformed requests answered 400 in OpenAI's error shape."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.serve.conftest import Media
from tests.serve.inprocess import chat_body, fake_client


@pytest.fixture(scope="module")
def index_dir(media: Media, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videopipe.retrieval.indexer import IndexOptions, index_paths

    idx = tmp_path_factory.mktemp("index")
    index_paths([media.videos["red.mp4"], media.videos["blue.mp4"]], idx, IndexOptions(embedder="color"))
    return idx


def test_models_health_and_page(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        models = c.get("/v1/models").json()
        assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["fake"]
        health = c.get("/health").json()
        assert health["status"] == "ok" and health["model"] == "fake" and health["in_flight"] == 0
        page = c.get("/")
        assert (
            page.status_code == 200
            and 'id="player"' in page.text
            and "text/html" in page.headers["content-type"]
        )


def test_search_over_the_index(media: Media, tmp_path: Path, index_dir: Path) -> None:
    from videopipe.config import PipelineConfig

    cfg = PipelineConfig(
        model="fake", device="cpu", num_frames=8, cache_dir=str(tmp_path), index_dir=str(index_dir)
    )
    with fake_client(tmp_path, config=cfg, allow_dirs=(media.allowed,)) as c:
        r = c.post("/v1/search", json={"query": "a blue screen", "k": 3})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert 0 < len(hits) <= 3 and hits[0]["video"] == str(media.videos["blue.mp4"])
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
        only = c.post("/v1/search", json={"query": "blue", "k": 3, "video": "red.mp4"}).json()["hits"]
        assert only and {h["video"] for h in only} == {str(media.videos["red.mp4"])}
        assert (
            c.post("/v1/search", json={"query": "x", "k": 3, "video": "../outside/secret.mp4"}).status_code
            == 403
        )
        assert c.post("/v1/search", json={"query": ""}).status_code == 400
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        r = c.post("/v1/search", json={"query": "blue"})
        assert r.status_code == 404 and "--index" in r.json()["error"]["message"]


def test_frames_thumbnail_and_video_range(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        r = c.get("/v1/frames", params={"video": "red.mp4", "t": 2.5, "height": 64})
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        img = Image.open(io.BytesIO(r.content))
        assert img.format == "JPEG" and min(img.size) == 64
        # the needle scene (red) is on screen at 2.5 s
        red, green, blue = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
        assert red > 150 and green < 80 and blue < 80
        assert c.get("/v1/frames", params={"video": "red.mp4", "t": -1}).status_code == 400
        size = media.videos["red.mp4"].stat().st_size
        part = c.get("/v1/videos/file", params={"video": "red.mp4"}, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 100-199/{size}"
        assert part.content == media.videos["red.mp4"].read_bytes()[100:200]
        assert c.get("/v1/videos/file", params={"video": "red.mp4"}).headers["content-type"] == "video/mp4"


def test_malformed_requests_are_400_in_the_openai_shape(media: Media, tmp_path: Path) -> None:
    video = str(media.videos["red.mp4"])
    cases = {
        "not json": (b"{not json", "not valid JSON"),
        "no messages": ({"model": "fake"}, "messages"),
        "bad part": (
            {"model": "fake", "messages": [{"role": "user", "content": [{"type": "audio", "x": 1}]}]},
            "messages",
        ),
        "no video": ({"model": "fake", "messages": [{"role": "user", "content": "What?"}]}, "no video"),
        "no question": (chat_body(video, "   "), "question"),
        "unknown override": (chat_body(video, videopipe={"num_frame": 3}), "num_frame"),
        "bad override": (chat_body(video, videopipe={"num_frames": 0}), "num_frames"),
        "bad compressor": (chat_body(video, videopipe={"compressor": "zip"}), "zip"),
        "n > 1": (chat_body(video, n=2), "n"),
    }
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        for name, (body, words) in cases.items():
            if isinstance(body, bytes):
                r = c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
            else:
                r = c.post("/v1/chat/completions", json=body)
            assert r.status_code == 400, (name, r.text)
            err = r.json()["error"]
            assert err["type"] == "invalid_request_error" and words in err["message"], (name, err)
        r = c.post("/v1/chat/completions", json={**chat_body(video), "model": "gpt-4o"})
        assert r.status_code == 404 and "fake" in r.json()["error"]["message"]
        r = c.get("/v1/nothing-here")
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
        assert c.get("/v1/chat/completions").status_code == 405
        assert c.app.state.worker.counters.model_stage_runs == 0
