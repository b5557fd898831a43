"""Fixtures for the server tests: a folder of generated videos (the only allowed one), a
secret outside it, a tiny random Qwen2.5-VL, the real ``videopipe serve`` as a subprocess on
a free port, and the in-process application with the scripted ``fake`` model."""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import cli_env, videopipe, videopipe_command  # noqa: F401 - videopipe: a fixture
from videopipe.testing.videos import make_video, scenes_video

#: the pipeline options every subprocess server and its in-process twin use (tiny, fast)
SERVER_OPTIONS = ("--device", "cpu", "--num-frames", "8", "--size", "112", "--max-visual-tokens", "48")
SERVER_MAX_NEW_TOKENS = 12
SECRET = "root:x:0:0:the-secret-canary-line"


@dataclass(frozen=True)
class Media:
    allowed: Path  # the --allow-dir folder
    videos: dict[str, Path]  # name -> file inside it
    outside: Path  # a folder next to it (not allowed)
    secret: Path  # a file outside, with SECRET in it
    link_out: Path  # a symlink inside allowed that points at the secret
    broken: Path  # a file named .mp4 inside allowed that is no video
    durations: dict[str, float]


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("serve-media")
    allowed, outside = root / "allowed", root / "outside"
    allowed.mkdir()
    outside.mkdir()
    specs = {
        "red.mp4": scenes_video((30, 30, 30, 30), needle=(2, "red"), width=112, height=84),
        "blue.mp4": scenes_video((24, 24, 24), needle=(1, "blue"), width=112, height=84),
        "green.mp4": scenes_video((20, 40, 20), needle=(0, "green"), width=112, height=84),
    }
    videos, durations = {}, {}
    for name, spec in specs.items():
        videos[name] = allowed / name
        shutil.copy(make_video(spec), videos[name])  # a copy: a symlink out would be refused
        durations[name] = spec.num_frames / spec.fps
    secret = outside / "secret.mp4"
    secret.write_text(SECRET + "\n")
    link_out = allowed / "link.mp4"
    link_out.symlink_to(secret)
    broken = allowed / "broken.mp4"
    broken.write_bytes(b"this is not a video at all\n" * 50)
    return Media(allowed, videos, outside, secret, link_out, broken, durations)


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videopipe.testing.tiny_models import build_tiny_model

    return build_tiny_model("qwen2_5_vl", tmp_path_factory.mktemp("m") / "tiny-qwen2.5-vl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    *args: str, log: Path, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> Server:
    """``videopipe serve ARGS --port P`` as users run it; returns once /health answers."""
    port = free_port()
    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [*videopipe_command(), "serve", *args, "--port", str(port)],
        env=env or cli_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"videopipe serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return Server(url, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"videopipe serve did not answer within {timeout_s} s:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


@pytest.fixture(scope="session")
def server_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-cache")


@pytest.fixture(scope="session")
def server(
    media: Media, tiny_qwen: Path, server_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The real server with the tiny Qwen2.5-VL, allowed to read ``media.allowed`` only."""
    log = tmp_path_factory.mktemp("server-log") / "serve.log"
    config = tmp_path_factory.mktemp("server-config") / "videopipe.toml"
    config.write_text(f'cache_dir = "{server_cache}"\nmax_new_tokens = {SERVER_MAX_NEW_TOKENS}\n')
    s = start_server(
        "--model",
        str(tiny_qwen),
        "--allow-dir",
        str(media.allowed),
        "--config",
        str(config),
        *SERVER_OPTIONS,
        log=log,
    )
    yield s
    stop_server(s)


@pytest.fixture
def http_server(media: Media) -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(media.allowed))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
