"""``/v1/chapters``, ``/v1/locate`` and ``/v1/summarize`` with an ``http(s)`` video under
``--allow-remote``: fetched by the same SSRF-safe fetcher as ``/v1/chat/completions`` (a local
HTTP server on 127.0.0.1 whose port the test trusts), answered with the URL as the video, the
temp copy removed; internal addresses, other domains and too-large files refused with the chat
route's codes and lines before any contact."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.serve.conftest import Media
from tests.serve.inprocess import fake_client, refused
from tests.serve.test_remote import Site, _no_contact, sites, trusting  # noqa: F401 - a fixture

ROUTES = ("/v1/chapters", "/v1/locate", "/v1/summarize")


def _body(route: str, video: str) -> dict[str, object]:
    extra = {"/v1/locate": {"query": "a red square"}, "/v1/summarize": {"chunk_s": 2, "align": "none"}}
    return {"video": video, "text": "none", **extra.get(route, {})}


def _job_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("videopipe-job-*")}


def test_a_remote_video_is_fetched_and_named_by_its_url(
    media: Media,
    tmp_path: Path,
    sites: tuple[Site, Site],  # noqa: F811
) -> None:
    public, internal = sites
    url = f"{public.url}/red.mp4"
    before = _job_temp_dirs()
    with fake_client(tmp_path, **trusting(public)) as c:
        r = c.post("/v1/summarize", json=_body("/v1/summarize", url))
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["video"] == url and data["summary"]
        assert data["chunks"][-1]["end_s"] == pytest.approx(media.durations["red.mp4"], abs=0.2)
        r = c.post("/v1/chapters", json={**_body("/v1/chapters", url), "min_len_s": 1})
        assert r.status_code == 200, r.text
        assert r.json()["video"] == url and r.json()["chapters"]
        # a redirect on the trusted site is followed, as the chat route follows it
        r = c.post("/v1/summarize", json=_body("/v1/summarize", f"{public.url}/redirect?to=/red.mp4"))
        assert r.status_code == 200, r.text
    assert public.log == ["/red.mp4", "/red.mp4", "/redirect?to=/red.mp4", "/red.mp4"]
    assert _job_temp_dirs() == before  # every fetched copy removed
    _no_contact(internal)


@pytest.mark.parametrize("route", ROUTES)
def test_remote_refusals_are_the_chat_routes(
    route: str,
    media: Media,
    tmp_path: Path,
    sites: tuple[Site, Site],  # noqa: F811
) -> None:
    public, internal = sites
    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:  # remote off: refused as before
        err = refused(
            c.post(route, json=_body(route, f"{public.url}/red.mp4")), 403, code="remote_not_allowed"
        )
        assert "--allow-remote" in err["message"]
    with fake_client(tmp_path, **trusting(public)) as c:
        for url in (f"{internal.url}/red.mp4", f"{public.url}/redirect?to={internal.url}/red.mp4"):
            err = refused(c.post(route, json=_body(route, url)), 403, code="remote_address_refused")
            assert "loopback address" in err["message"] and "only public addresses" in err["message"]
        assert c.app.state.worker.counters.model_stage_runs == 0
    with fake_client(tmp_path, allow_domains=("videos.example.com",), **trusting(public)) as c:
        err = refused(
            c.post(route, json=_body(route, f"{public.url}/red.mp4")), 403, code="remote_domain_not_allowed"
        )
        assert "--allow-domain" in err["message"]
    with fake_client(tmp_path, remote_max_bytes=1000, **trusting(public)) as c:
        err = refused(c.post(route, json=_body(route, f"{public.url}/red.mp4")), 413, code="remote_too_large")
        assert "larger than 1000 bytes" in err["message"]
    _no_contact(internal)
    # the redirect was asked for (and its target refused), then the too-large file; nothing else
    assert [p.split("?")[0] for p in public.log] == ["/redirect", "/red.mp4"]


def test_the_mcp_job_tools_fetch_remote_videos_as_the_routes_do(
    media: Media,
    tmp_path: Path,
    sites: tuple[Site, Site],  # noqa: F811
) -> None:
    """``video_chapters``, ``locate_in_video`` and ``summarize_video`` run through the same
    ``run_job`` as the routes: a URL under ``--allow-remote`` is fetched (named by its URL in the
    answer, the temp copy removed), an internal one refused before any contact."""
    pytest.importorskip("mcp")
    import asyncio

    from mcp.server.mcpserver.exceptions import ToolError

    from tests.serve.inprocess import fake_settings
    from videopipe.serve.mcp_tools import build_mcp
    from videopipe.testing.fake_model import FakeVideoLLM

    public, internal = sites
    url = f"{public.url}/red.mp4"
    server, worker = build_mcp(fake_settings(tmp_path, **trusting(public)), model=FakeVideoLLM())
    worker.start()
    before = _job_temp_dirs()

    async def calls() -> dict[str, object]:
        got: dict[str, object] = {}
        for name, args in (
            ("summarize_video", {"video": url, "text": "none", "chunk_s": 2, "align": "none"}),
            ("video_chapters", {"video": url, "text": "none", "min_len_s": 1}),
        ):
            got[name] = (await server.call_tool(name, args)).structured_content
        try:
            await server.call_tool("locate_in_video", {"video": f"{internal.url}/red.mp4", "query": "red"})
        except ToolError as e:
            got["internal"] = str(e)
        return got

    try:
        got = asyncio.run(calls())
    finally:
        worker.close()
    summary, chapters = got["summarize_video"], got["video_chapters"]
    assert summary["video"] == url and summary["summary"]
    assert summary["chunks"][-1]["end_s"] == pytest.approx(media.durations["red.mp4"], abs=0.2)
    assert chapters["video"] == url and chapters["chapters"]
    assert "loopback address" in str(got.get("internal")), got
    assert public.log == ["/red.mp4", "/red.mp4"]
    assert _job_temp_dirs() == before
    _no_contact(internal)
