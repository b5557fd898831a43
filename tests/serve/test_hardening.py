"""What a hostile page or client cannot do to a server without an API key: DNS rebinding (a
foreign ``Host``), cross-origin POSTs from other pages, hidden or non-video files under the
allowed folder, server-side paths in error messages, and paths the OS refuses (500s)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import Media, Server, start_server, stop_server
from tests.serve.inprocess import chat_body, fake_client, refused
from videopipe.serve.errors import redact_paths


@pytest.fixture(scope="module")
def fake_server(media: Media, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``videopipe serve --model fake`` as users run it, allowed to read ``media.allowed``."""
    log = tmp_path_factory.mktemp("fake-server-log") / "serve.log"
    s = start_server("--model", "fake", "--allow-dir", str(media.allowed), "--device", "cpu", log=log)
    yield s
    stop_server(s)


def _port(server: Server) -> str:
    return server.url.rsplit(":", 1)[1]


# -- Host: DNS rebinding ---------------------------------------------------------------------------
def test_a_foreign_host_is_refused_by_the_real_server(fake_server: Server) -> None:
    port = _port(fake_server)
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}", "a@127.0.0.1"):
        for route in ("/v1/videos", "/health", "/"):
            err = refused(httpx.get(fake_server.url + route, headers={"Host": host}), 421)
            assert err["code"] == "host_not_allowed" and "--allowed-host" in err["message"], (host, err)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}", "localhost"):
        r = httpx.get(fake_server.url + "/v1/videos", headers={"Host": host})
        assert r.status_code == 200 and r.json()["videos"], (host, r.text)
    assert "Traceback" not in fake_server.output()


def test_allowed_host_names_and_the_wildcard_bind(media: Media, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(media.allowed,), allowed_hosts=("Videos.Example.com",)) as c:
        assert c.get("/v1/videos", headers={"Host": "videos.example.com"}).status_code == 200
        assert c.get("/v1/videos", headers={"Host": "videos.example.com:443"}).status_code == 200
        assert c.get("/v1/videos", headers={"Host": "[::1]:8000"}).status_code == 200
        refused(c.get("/v1/videos", headers={"Host": "other.example.com"}), 421)
        refused(c.get("/v1/videos", headers={"Host": "10.1.2.3:8000"}), 421)  # bound to 127.0.0.1
    # bound to every interface: any address (a rebinding attack needs a name), still no foreign name
    with fake_client(tmp_path, allow_dirs=(media.allowed,), host="0.0.0.0") as c:
        assert c.get("/v1/videos", headers={"Host": "10.1.2.3:8000"}).status_code == 200
        refused(c.get("/v1/videos", headers={"Host": "evil.example:8000"}), 421)
    # an API key does not switch the check off; '*' does
    with fake_client(tmp_path, allow_dirs=(media.allowed,), api_key="k") as c:
        refused(c.get("/health", headers={"Host": "evil.example"}), 421)
    with fake_client(tmp_path, allow_dirs=(media.allowed,), allowed_hosts=("*",)) as c:
        assert c.get("/health", headers={"Host": "evil.example"}).status_code == 200


# -- Origin: other pages the browser has open --------------------------------------------------------
def test_cross_origin_posts_are_refused(media: Media, tmp_path: Path) -> None:
    body = chat_body(str(media.videos["red.mp4"]))
    with fake_client(tmp_path, allow_dirs=(media.allowed,), allowed_hosts=("proxy.example",)) as c:
        for origin in ("http://evil.example", "http://localhost:3000", "null", "http://127.0.0.1:9"):
            err = refused(c.post("/v1/chat/completions", json=body, headers={"Origin": origin}), 403)
            assert err["code"] == "cross_origin" and err["type"] == "permission_error", origin
            refused(c.post("/v1/search", json={"query": "red"}, headers={"Origin": origin}), 403)
        assert c.app.state.worker.counters.admitted == 0
        # the page itself (same origin), a reverse proxy's name, clients that send no Origin
        host = c.base_url.netloc.decode()
        for headers in ({"Origin": f"http://{host}"}, {"Origin": "https://proxy.example"}, {}):
            r = c.post("/v1/chat/completions", json=body, headers=headers)
            assert r.status_code == 200, (headers, r.text)
        # reading is not state-changing: a GET with a foreign Origin is answered (no CORS headers)
        r = c.get("/v1/models", headers={"Origin": "http://evil.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


# -- which files are served ---------------------------------------------------------------------------
@pytest.fixture
def mixed(media: Media, tmp_path: Path) -> Path:
    """A folder with a video, hidden files and folders, a text file and links into hidden places."""
    d = tmp_path / "mixed"
    (d / ".hidden").mkdir(parents=True)
    (d / "sub").mkdir()
    shutil.copy(media.videos["red.mp4"], d / "good.mp4")
    shutil.copy(media.videos["red.mp4"], d / ".secret.mp4")
    shutil.copy(media.videos["red.mp4"], d / ".hidden" / "v.mp4")
    (d / ".env").write_text("API_TOKEN=hunter2\n")
    (d / "notes.txt").write_text("private notes\n")
    (d / "sub" / "alias.mp4").symlink_to(d / ".hidden" / "v.mp4")
    (d / "sub" / "env.mp4").symlink_to(d / ".env")
    return d


def test_only_listed_videos_are_served(mixed: Path, tmp_path: Path) -> None:
    with fake_client(tmp_path, allow_dirs=(mixed,)) as c:
        assert [v["name"] for v in c.get("/v1/videos").json()["videos"]] == ["good.mp4"]
        assert c.get("/v1/videos/file", params={"video": "good.mp4"}).status_code == 200
        for ref in (".env", "notes.txt", ".secret.mp4", ".hidden/v.mp4", "sub/alias.mp4", "sub/env.mp4"):
            for form in (ref, str(mixed / ref)):
                r = c.get("/v1/videos/file", params={"video": form})
                err = refused(r, 403, code="path_not_allowed")
                assert "hunter2" not in r.text and "private notes" not in r.text, form
                assert "hidden" in err["message"] or "not a video" in err["message"], err
        for ref in (".env", ".secret.mp4", ".hidden/v.mp4"):  # hidden: not for chat or thumbnails either
            refused(c.post("/v1/chat/completions", json=chat_body(ref)), 403, code="path_not_allowed")
            refused(c.get("/v1/frames", params={"video": ref, "t": 0}), 403, code="path_not_allowed")
        assert c.app.state.worker.counters.admitted == 0


# -- paths the OS refuses ---------------------------------------------------------------------------
def test_paths_the_os_refuses_are_400_without_a_traceback(media: Media, fake_server: Server) -> None:
    long_abs = "/" + "a" * 6000
    too_long_name = "b" * 300 + ".mp4"  # one component over NAME_MAX, inside the query limit
    with httpx.Client(base_url=fake_server.url) as c:
        for ref in (long_abs, "file://" + long_abs, "c/" * 3000):
            err = refused(c.post("/v1/chat/completions", json=chat_body(ref)), 400, code="invalid_path")
            assert len(err["message"]) < 300, err
        for ref in (too_long_name, str(media.allowed / too_long_name)):
            refused(c.get("/v1/frames", params={"video": ref, "t": 0}), 400, code="invalid_path")
            refused(c.get("/v1/videos/file", params={"video": ref}), 400, code="invalid_path")
        assert c.get("/health").json()["status"] == "ok"
    log = fake_server.output()
    assert "Traceback" not in log and "OSError" not in log, log


# -- server-side paths in messages ---------------------------------------------------------------------
def test_errors_name_the_url_not_the_temp_file(media: Media, tmp_path: Path, http_server: str) -> None:
    url = f"{http_server}/broken.mp4"  # served, but no video
    trusted = (http_server.removeprefix("http://"),)  # the local server, as if it were public
    with fake_client(tmp_path, allow_remote=True, remote_trusted_for_tests=trusted) as c:
        for body in (chat_body(url), chat_body(url, stream=True)):
            r = c.post("/v1/chat/completions", json=body)
            text = r.text
            assert r.status_code in (200, 422), text
            assert url in text, text
            assert tempfile.gettempdir() + "/" not in text.replace(http_server, ""), text
            assert "videopipe-serve-" not in text, text


def test_redact_paths_keeps_the_allowed_folders_and_the_client_s_own_words(tmp_path: Path) -> None:
    allowed = tmp_path / "videos"
    msg = (
        f"{allowed}/a b.mp4: damaged; see /var/cache/videopipe/tokens/x.pt, "
        f"'/tmp/videopipe-serve-1/tmpab.mp4': bad (file:///root/.ssh/id_rsa); "
        "http://host/v.mp4 and http://[::1]/x.mp4 fetched; tokens/frame 1/2"
    )
    out = redact_paths(msg, keep=(allowed,), aliases={"/tmp/videopipe-serve-1/tmpab.mp4": "http://h/v.mp4"})
    assert f"{allowed}/a b.mp4: damaged" in out
    assert "/var/cache" not in out and "/root/.ssh" not in out and "videopipe-serve-1" not in out, out
    assert "<server path>, " in out and "'http://h/v.mp4': bad (<server path>);" in out, out
    assert "http://host/v.mp4 and http://[::1]/x.mp4 fetched; tokens/frame 1/2" in out, out
    plain = "the question is empty: ask something"
    assert redact_paths(plain, keep=(), aliases={}) == plain
