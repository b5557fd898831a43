"""Files that name other files or URLs (HLS playlists, ffconcat lists) are refused before
anything they name is opened: through the executable, open_video, Pipeline and the audio reader.

The outside target is a FIFO watched by a thread blocked opening its write end: that open
returns only when someone opens the FIFO for reading, so an opening is seen, never guessed;
the URL target is a local HTTP server that counts requests."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.decode.helpers import gen_video
from videopipe.decode import open_video
from videopipe.decode.safe_open import MEDIA_FORMATS, refused_format
from videopipe.errors import UnsupportedVideoError

ROOT = Path(__file__).resolve().parents[2]
EXE = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))


class FifoWatch:
    """A FIFO; ``opened`` is set when anything opens it for reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        fd = os.open(self.path, os.O_WRONLY)  # blocks until a reader opens the FIFO
        if not self._stopping:
            self.opened.set()
        os.close(fd)

    def stop(self) -> None:
        self._stopping = True
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # lets the blocked writer return
        self._thread.join(10)
        os.close(fd)


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    _Counting.requests = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", _Counting.requests
    srv.shutdown()


def _hls(target: str) -> str:
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n"


@pytest.fixture(params=["hls_path", "hls_url", "ffconcat_symlink"])
def script(request, tmp_path, http_server) -> Iterator[tuple[Path, str, object]]:
    """(a script inside ``allowed/``, its demuxer, a check that nothing it names was opened)."""
    allowed, outside = tmp_path / "allowed", tmp_path / "elsewhere"
    allowed.mkdir()
    outside.mkdir()
    url, requests = http_server
    watch = None
    if request.param == "hls_path":
        watch = FifoWatch(outside / "secret.ts")
        path, fmt = allowed / "list.m3u8", "hls"
        path.write_text(_hls(str(outside / "secret.ts")))
    elif request.param == "hls_url":
        path, fmt = allowed / "list.m3u8", "hls"
        path.write_text(_hls(f"{url}/secret.ts"))
    else:
        watch = FifoWatch(outside / "secret.mp4")
        (allowed / "link.mp4").symlink_to(outside / "secret.mp4")
        path, fmt = allowed / "concat.mp4", "concat"
        path.write_text("ffconcat version 1.0\nfile link.mp4\n")

    def nothing_opened() -> None:
        assert requests == [], f"the script made HTTP requests: {requests}"
        if watch is not None:
            assert not watch.opened.is_set(), "the file outside the folder was opened"

    yield path, fmt, nothing_opened
    if watch is not None:
        watch.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


@pytest.mark.parametrize("command", ["info", "frames"])
def test_the_executable_refuses_a_script_in_one_line_and_opens_nothing_it_names(script, command):
    path, fmt, nothing_opened = script
    r = subprocess.run([EXE, command, str(path)], capture_output=True, text=True, env=_env(), timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1, lines
    assert str(path) in lines[0] and f"is a playlist/script ({fmt})" in lines[0]
    assert "videopipe opens only media files" in lines[0]
    assert "elsewhere" not in lines[0] and "127.0.0.1" not in lines[0]  # nothing of what it names
    nothing_opened()


@pytest.mark.parametrize("backend", ["auto", "pyav", "torchcodec", "decord"])
def test_open_video_refuses_a_script_with_every_backend(script, backend):
    path, fmt, nothing_opened = script
    with pytest.raises(UnsupportedVideoError, match=rf"is a playlist/script \({fmt}\)"):
        open_video(path, backend=backend)
    nothing_opened()


def test_pipeline_and_the_audio_reader_refuse_a_script(script):
    from videopipe.pipeline import Pipeline
    from videopipe.testing.fake_model import FakeVideoLLM
    from videopipe.text.audio import audio_track
    from videopipe.text.subtitles import extract_embedded

    path, fmt, nothing_opened = script
    pipe = Pipeline(FakeVideoLLM(), compressor="none")
    with pytest.raises(UnsupportedVideoError, match=rf"is a playlist/script \({fmt}\)"):
        pipe.select_and_decode(path)
    with pytest.raises(UnsupportedVideoError, match=rf"is a playlist/script \({fmt}\)"):
        audio_track(path)
    assert extract_embedded(path) == []
    nothing_opened()


def test_pyav_itself_refuses_a_script_the_probe_did_not_see(script):
    """The second line of defence: a PyAV opening refuses on its own (e.g. the file was swapped
    for a playlist after the probe)."""
    from videopipe.decode.container import open_container

    path, fmt, nothing_opened = script
    with pytest.raises(UnsupportedVideoError, match=rf"is a playlist/script \({fmt}\)"):
        open_container(str(path))
    nothing_opened()


def test_a_file_with_a_colon_in_its_name_is_a_file_not_a_protocol(tmp_path):
    src = gen_video("h264")
    odd = tmp_path / "concat:a.mp4"
    shutil.copy(src, odd)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with open_video("concat:a.mp4", backend="pyav") as r:
            assert r.info.num_frames == 150
    finally:
        os.chdir(cwd)


def test_refused_format_reads_the_demuxer_from_the_log_line():
    assert (
        refused_format("[hls @ 0x55e9053b3280] Format not on whitelist 'mov'\nx: Invalid argument") == "hls"
    )
    assert refused_format("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x1] moov atom not found") is None
    assert "hls" not in MEDIA_FORMATS.split(",") and "concat" not in MEDIA_FORMATS.split(",")
