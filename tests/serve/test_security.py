"""Safe by default: every way out of the allowed folder is refused with the right status
and the OpenAI error shape, before anything opens the file (a Python audit hook watches every
``open`` and subprocess of the process), and the file's contents never come back."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import Media
from tests.serve.inprocess import chat_body, fake_client, refused

_WATCHED: list[str] = []
_TOUCHED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if not _WATCHED or event not in ("open", "subprocess.Popen", "os.exec", "os.posix_spawn"):
        return
    text = repr(args)
    _TOUCHED.extend(w for w in _WATCHED if w in text)


sys.addaudithook(_audit)  # cannot be removed: it only looks while _WATCHED is set


@pytest.fixture
def watch(media: Media) -> Iterator[list[str]]:
    """Records every open/exec of the secret (by its real name and the link's) during the test."""
    _TOUCHED.clear()
    _WATCHED[:] = [str(media.secret), "secret.mp4", "/etc/passwd"]
    yield _TOUCHED
    _WATCHED.clear()


def test_every_escape_is_403_and_reads_nothing(media: Media, tmp_path: Path, watch: list[str]) -> None:
    allowed = media.allowed
    escapes = [
        "../outside/secret.mp4",  # relative, ..
        f"{allowed}/../outside/secret.mp4",  # absolute, ..
        str(media.secret),  # absolute, elsewhere
        media.secret.as_uri(),  # file:// elsewhere
        f"file://{allowed}/%2e%2e/outside/secret.mp4",  # percent-encoded ..
        "link.mp4",  # a symlink inside that points out
        str(media.link_out),
        "file:///etc/passwd",
        "/etc/passwd",
    ]
    with fake_client(tmp_path, allow_dirs=(allowed,)) as c:
        worker = c.app.state.worker
        for ref in escapes:
            err = refused(c.post("/v1/chat/completions", json=chat_body(ref)), 403, code="path_not_allowed")
            assert err["type"] == "permission_error", ref
            refused(c.get("/v1/frames", params={"video": ref, "t": 0}), 403)
            refused(c.get("/v1/videos/file", params={"video": ref}), 403)
            refused(c.post("/v1/chat/completions", json=chat_body(ref, stream=True)), 403)
        assert worker.counters.admitted == 0 and worker.counters.model_stage_runs == 0
        listed = {v["name"] for v in c.get("/v1/videos").json()["videos"]}
        assert "link.mp4" not in listed and {"red.mp4", "blue.mp4"} <= listed
    assert watch == []


def test_remote_urls_need_allow_remote(media: Media, tmp_path: Path, watch: list[str]) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        for url in ("http://127.0.0.1:9/secret.mp4", "https://example.com/v.mp4"):
            err = refused(c.post("/v1/chat/completions", json=chat_body(url)), 403, code="remote_not_allowed")
            assert "--allow-remote" in err["message"]
        refused(c.post("/v1/chat/completions", json=chat_body("ftp://example.com/v.mp4")), 400)
        assert c.app.state.worker.counters.admitted == 0
    assert watch == []


def test_no_allowed_folder_serves_no_file(media: Media, tmp_path: Path, watch: list[str]) -> None:
    with fake_client(tmp_path) as c:
        err = refused(c.post("/v1/chat/completions", json=chat_body(str(media.videos["red.mp4"]))), 403)
        assert "--allow-dir" in err["message"]
        assert c.get("/v1/videos").json() == {"videos": []}
    assert watch == []


def test_missing_file_inside_is_404(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        refused(c.post("/v1/chat/completions", json=chat_body("nope.mp4")), 404, code="video_not_found")
        refused(c.get("/v1/frames", params={"video": "nope.mp4", "t": 1}), 404)


def test_api_key_is_required_and_checked(media: Media, tmp_path: Path, watch: list[str]) -> None:
    body = chat_body(str(media.videos["red.mp4"]))
    with fake_client(tmp_path, allow_dirs=(media.allowed,), api_key="s3cret-key") as c:
        missing = refused(c.post("/v1/chat/completions", json=body), 401, code="missing_api_key")
        assert missing["type"] == "authentication_error"
        refused(c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer wrong"}), 401)
        refused(c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret-ke"}), 401)
        refused(c.get("/v1/models"), 401)
        # a refused key is refused before the path is looked at
        refused(c.post("/v1/chat/completions", json=chat_body(str(media.secret))), 401)
        assert c.app.state.worker.counters.admitted == 0
        ok = c.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret-key"})
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "The screen is red."
        c.cookies.set("videopipe_key", "s3cret-key")  # what the web page sets for <img>/<video>
        assert c.get("/v1/frames", params={"video": "red.mp4", "t": 0}).status_code == 200
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200  # no data there
    assert watch == []


def test_oversized_body_is_413(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,), max_body_bytes=4096) as c:
        big = chat_body(str(media.videos["red.mp4"]), "x" * 10_000)
        refused(c.post("/v1/chat/completions", json=big), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            yield b'{"model": "fake", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}]}'

        refused(
            c.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}),
            413,
        )
        assert c.app.state.worker.counters.admitted == 0
        small = c.post("/v1/chat/completions", json=chat_body(str(media.videos["red.mp4"])))
        assert small.status_code == 200


def test_remote_video_with_allow_remote_and_its_size_limit(
    media: Media, tmp_path: Path, http_server: str
) -> None:
    url = f"{http_server}/red.mp4"
    trusted = {"remote_trusted_for_tests": (http_server.removeprefix("http://"),)}  # the local server
    with fake_client(tmp_path, allow_remote=True, **trusted) as c:
        r = c.post("/v1/chat/completions", json=chat_body(url))
        assert r.status_code == 200, r.text
        vp = r.json()["videopipe"]
        assert r.json()["choices"][0]["message"]["content"] == "The screen is red."
        assert vp["video"] == url and all(h["video"] == url for h in vp["evidence"])
        refused(c.post("/v1/chat/completions", json=chat_body(f"{http_server}/missing.mp4")), 404)
    size = media.videos["red.mp4"].stat().st_size
    with fake_client(tmp_path, allow_remote=True, remote_max_bytes=size // 2, **trusted) as c:
        refused(c.post("/v1/chat/completions", json=chat_body(url)), 413, code="remote_too_large")
