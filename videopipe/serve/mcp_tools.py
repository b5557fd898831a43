"""``videopipe mcp``: the server's abilities as MCP tools (the official ``mcp`` SDK), over stdio
or streamable HTTP, for agents.

Tools: ``ask_video`` (a question about a video: the answer, its evidence and stats, as
``videopipe ask --json`` prints), ``search_videos`` (the ``--index``), ``video_info`` (what
``videopipe info`` prints), ``video_chapters``, ``locate_in_video`` and ``summarize_video``
(what ``videopipe chapters / locate / summarize --json`` print; ``video_jobs.py``, as
``/v1/chapters``, ``/v1/locate`` and ``/v1/summarize`` run them). Videos are named as in ``serve``: paths under ``--allow-dir``
(``file://`` URLs too), and ``http(s)`` URLs only with ``--allow-remote``, under the same rules
(``paths.py``, ``remote.py``). The model loads once; questions go through the server's worker.
A refused or failed call is a tool error with the one-line message ``serve`` would answer.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.serve.errors import from_exception
from videopipe.serve.paths import PathPolicy
from videopipe.serve.remote import RemoteFetcher
from videopipe.serve.settings import ServeSettings
from videopipe.serve.worker import Job, ModelWorker

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from videopipe.models.contract import VideoLLM

__all__ = ["TOOLS", "build_mcp"]

TOOLS = ("ask_video", "search_videos", "video_info", "video_chapters", "locate_in_video", "summarize_video")


def build_mcp(settings: ServeSettings, *, model: VideoLLM | None = None) -> tuple[MCPServer, ModelWorker]:
    """The MCP server and its model worker (call ``worker.start()`` before serving)."""
    from mcp.server.mcpserver import MCPServer

    worker = ModelWorker.for_settings(settings, model=model)
    policy = PathPolicy(settings.allow_dirs, allow_remote=settings.allow_remote)
    fetcher = RemoteFetcher.of(settings)
    server = MCPServer(
        name="videopipe",
        instructions="Ask questions about long videos, search an index of videos, and describe a video file.",
        log_level="WARNING",
    )

    @server.tool()
    async def ask_video(
        video: str,
        question: str,
        num_frames: int | None = None,
        max_visual_tokens: int | None = None,
        max_new_tokens: int | None = None,
    ) -> dict[str, Any]:
        """Answer a question about a video (a path under the allowed folders, or an http(s) URL
        where the server allows them). Returns the answer ``text``, its ``evidence`` (time spans
        of the video, most relevant first) and ``stats``."""
        overrides = {"num_frames": num_frames, "max_visual_tokens": max_visual_tokens}
        async with _tool_errors(settings), AsyncExitStack() as held:
            ref = policy.check(video)
            held.callback(worker.admit().release)
            path = ref.path
            if ref.url is not None:
                tmp = Path(tempfile.mkdtemp(prefix="videopipe-mcp-"))
                held.callback(shutil.rmtree, tmp, ignore_errors=True)
                path = await fetcher.fetch(ref.url, tmp)
            assert path is not None
            job = Job(
                video=path,
                question=question,
                overrides={k: v for k, v in overrides.items() if v is not None},
                max_new_tokens=max_new_tokens,
            )
            held.callback(job.done)
            pipe, decoded = await worker.decode(job)
            answer = (await worker.answer(pipe, decoded, job)).to_dict()
            if ref.url is not None:
                answer["video"] = ref.url
                for hit in answer["evidence"]:
                    hit["video"] = ref.url
            return answer

    @server.tool()
    async def search_videos(query: str, k: int = 5, video: str | None = None) -> list[dict[str, Any]]:
        """Search the server's index of videos for a text query: the ``k`` best time spans
        (video, start_s, end_s, score), optionally within one video."""
        async with _tool_errors(settings):
            index_dir = settings.config.index_dir
            if index_dir is None:
                from videopipe.errors import ConfigError

                raise ConfigError("this server has no index (start it with --index DIR)")
            within = policy.check(video).path if video else None

            def run() -> list[dict[str, Any]]:
                from videopipe.retrieval.search import Retriever, check_query

                check_query(query, k)
                return [h.to_dict() for h in Retriever(index_dir).search(query, k, video=within)]

            return await worker.cpu(run)  # type: ignore[no-any-return]

    @server.tool()
    async def video_info(video: str) -> dict[str, Any]:
        """What a local video file is: duration, frame rate, frames, size, codec, rotation."""
        async with _tool_errors(settings):
            path = policy.check(video).path
            if path is None:
                from videopipe.errors import InputError

                raise InputError("video_info describes local videos only")

            def run() -> dict[str, Any]:
                from videopipe.decode import open_video

                with open_video(path, backend=settings.config.decode_backend, device="cpu") as reader:
                    return reader.info.to_dict()

            return await worker.cpu(run)  # type: ignore[no-any-return]

    @server.tool()
    async def video_chapters(
        video: str,
        min_len_s: float | None = None,
        max_len_s: float | None = None,
        titles: str | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """The chapters of a video (a path under the allowed folders, or an http(s) URL where
        the server allows them): spans that tile it (start_s, end_s, title, the signals
        that put each boundary there), from topic shifts in its speech or subtitles, slide
        changes and scene cuts. ``titles``: extract (the central sentence; default) or model."""
        from videopipe.serve.video_jobs import ChaptersRequest, job_request, run_chapters, run_job

        async with _tool_errors(settings):
            req = job_request(
                ChaptersRequest,
                video=video,
                min_len_s=min_len_s,
                max_len_s=max_len_s,
                titles=titles,
                text=text,
            )
            return await run_job(worker, policy, fetcher, req, run_chapters)

    @server.tool()
    async def locate_in_video(
        video: str, query: str, top: int = 5, text: str | None = None
    ) -> dict[str, Any]:
        """Where ``query`` happens in a video (as ``video_chapters`` names it): the ``top`` spans
        (start_s, end_s, score), best first, each with the lines that matched as evidence."""
        from videopipe.serve.video_jobs import LocateRequest, job_request, run_job, run_locate

        async with _tool_errors(settings):
            req = job_request(LocateRequest, video=video, query=query, top=top, text=text)
            return await run_job(worker, policy, fetcher, req, run_locate)

    @server.tool()
    async def summarize_video(
        video: str,
        chunk_s: float | None = None,
        align: str | None = None,
        frames: int | None = None,
        text: str | None = None,
    ) -> dict[str, Any]:
        """A summary of a video (as ``video_chapters`` names it) with timestamps: each chunk of
        at most ``chunk_s`` seconds (aligned to ``align``: cuts, chapters or none) described by
        the video LLM from its own ``frames`` and lines, then the descriptions reduced into the
        ``summary``; ``chunks`` lists each chunk's span and description."""
        from videopipe.serve.video_jobs import SummarizeRequest, job_request, run_job, run_summarize

        async with _tool_errors(settings):
            req = job_request(
                SummarizeRequest, video=video, chunk_s=chunk_s, align=align, frames=frames, text=text
            )
            return await run_job(worker, policy, fetcher, req, run_summarize)

    return server, worker


@asynccontextmanager
async def _tool_errors(settings: ServeSettings) -> AsyncIterator[None]:
    """Errors as MCP tool errors carrying ``serve``'s one-line message (server paths redacted)."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        yield
    except ToolError:
        raise
    except Exception as e:
        raise ToolError(from_exception(e, keep=settings.allow_dirs).message) from None
