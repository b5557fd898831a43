"""The long-video jobs as the server runs them: ``/v1/chapters``, ``/v1/locate`` and
``/v1/summarize`` (``routes.py``) and the MCP tools ``video_chapters``, ``locate_in_video`` and
``summarize_video`` (``mcp_tools.py``) call the same function here (:func:`run_job`).

Each request names a video -- a file under ``--allow-dir``, or with ``--allow-remote`` an
``http(s)`` URL fetched into a temp folder by the same SSRF-safe :class:`~videopipe.serve.remote.RemoteFetcher`
as ``/v1/chat/completions`` (its limits, ``--allow-domain`` and refusals; :func:`job_video`) --
and its options, validated by the request models below (a bad option is a 400 with one line). The timed text is read in a decode thread (cached like
``transcribe``, with the server's ``text`` sources and ASR model unless the request names
sources); work that calls the video LLM (``summarize``, ``titles: model``) runs in the model
thread after the questions before it. The answer is the job's ``to_dict()``, as the CLI's
``--json`` prints it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from videopipe.serve.errors import ApiError

if TYPE_CHECKING:
    from videopipe.config import PipelineConfig
    from videopipe.protocols import Embedder
    from videopipe.serve.paths import PathPolicy
    from videopipe.serve.remote import RemoteFetcher
    from videopipe.serve.worker import ModelWorker
    from videopipe.text.timeline import Timeline

__all__ = [
    "ChaptersRequest",
    "LocateRequest",
    "JobVideo",
    "SummarizeRequest",
    "job_request",
    "job_video",
    "run_chapters",
    "run_job",
    "run_locate",
    "run_summarize",
]


class _JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    video: str = Field(min_length=1, max_length=4096)
    #: text sources as ``--text`` takes them (``auto``, ``subtitles,speech``...); default: the server's
    text: str | None = Field(default=None, min_length=1, max_length=200)


class ChaptersRequest(_JobRequest):
    min_len_s: float = Field(default=30.0, gt=0, le=1e6)
    max_len_s: float = Field(default=900.0, gt=0, le=1e7)
    titles: Literal["extract", "model"] = "extract"
    cuts: bool = True


class LocateRequest(_JobRequest):
    query: str = Field(min_length=1, max_length=2000)
    top: int = Field(default=5, ge=1, le=100)


class SummarizeRequest(_JobRequest):
    chunk_s: float = Field(default=30.0, gt=0, le=3600)
    align: Literal["chapters", "cuts", "none"] = "cuts"
    frames: int = Field(default=4, ge=1, le=64)


R = TypeVar("R", bound=_JobRequest)


def job_request(kind: type[R], **options: Any) -> R:
    """``kind`` built from ``options`` (the MCP tools' arguments), a bad one a 400 naming it
    in one line, as the routes answer it."""
    try:
        return kind(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise ApiError(400, f"{where}: {first.get('msg', 'invalid value')}", param=where or None) from None


def _checked_sidecar(policy: PathPolicy, path: Path, param: str) -> Path:
    from videopipe.text.subtitles import find_sidecar

    sidecar = find_sidecar(path)
    if sidecar is not None and not policy.allows(sidecar.resolve()):
        raise ApiError(
            403,
            f"{path.name}: its subtitle file {sidecar.name} leads outside the folders this server may read",
            param=param,
            code="path_not_allowed",
        )
    return path


@dataclass(frozen=True)
class JobVideo:
    """The video a job reads: ``path`` on this machine; ``url`` when it was fetched."""

    path: Path
    url: str | None = None

    def answer(self, result: dict[str, Any]) -> dict[str, Any]:
        """``result`` naming the video as the client did (a fetched video's URL, not its temp file)."""
        return result if self.url is None else {**result, "video": self.url}


@asynccontextmanager
async def job_video(
    policy: PathPolicy, fetcher: RemoteFetcher, video: str, param: str = "video"
) -> AsyncIterator[JobVideo]:
    """The video of a job request: a checked local file, or (``--allow-remote``) an ``http(s)``
    URL downloaded by ``fetcher`` into a temp folder removed when the job ends."""
    ref = policy.check(video, param=param)
    if ref.path is not None:
        yield JobVideo(_checked_sidecar(policy, ref.path, param))
        return
    assert ref.url is not None
    tmp = Path(tempfile.mkdtemp(prefix="videopipe-job-"))
    try:
        yield JobVideo(await fetcher.fetch(ref.url, tmp), ref.url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ReqT = TypeVar("ReqT", bound="_JobRequest")


async def run_job(
    worker: ModelWorker,
    policy: PathPolicy,
    fetcher: RemoteFetcher,
    req: ReqT,
    run: Callable[[ModelWorker, Path, ReqT], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """``run`` (``run_chapters``, ...) on the video of ``req`` (checked, or fetched: see
    :func:`job_video`), holding a place in the worker's queue while it runs (503 when the queue
    is full); the answer names the video as the client did. The route's and the MCP tool's."""
    ticket = worker.admit()
    try:
        async with job_video(policy, fetcher, req.video) as video:
            return video.answer(await run(worker, video.path, req))
    finally:
        ticket.release()


async def run_chapters(worker: ModelWorker, path: Path, req: ChaptersRequest) -> dict[str, Any]:
    from videopipe.chapters.job import find_chapters

    timeline = await worker.cpu(_timeline, worker.config, path, req.text)
    options = {
        "timeline": timeline,
        "min_len_s": req.min_len_s,
        "max_len_s": req.max_len_s,
        "titles": req.titles,
        "cuts": req.cuts,
        "embedder": text_embedder(),
    }
    if req.titles == "model":
        found = await worker.with_model(lambda m: find_chapters(path, model=m, **options))
    else:
        found = await worker.cpu(find_chapters, path, **options)
    return found.to_dict()  # type: ignore[no-any-return]


async def run_locate(worker: ModelWorker, path: Path, req: LocateRequest) -> dict[str, Any]:
    from videopipe.locate.job import check_query, locate

    query = check_query(req.query, path.name)
    timeline = await worker.cpu(_timeline, worker.config, path, req.text)
    found = await worker.cpu(locate, path, query, timeline=timeline, top=req.top, embedder=text_embedder())
    return found.to_dict()  # type: ignore[no-any-return]


async def run_summarize(worker: ModelWorker, path: Path, req: SummarizeRequest) -> dict[str, Any]:
    from videopipe.summarize.job import summarize

    cfg = worker.config
    timeline = await worker.cpu(_timeline, cfg, path, req.text)

    def run(model: Any) -> dict[str, Any]:
        return summarize(  # type: ignore[no-any-return]
            path,
            model=model,
            timeline=timeline,
            chunk_s=req.chunk_s,
            align=req.align,
            frames=req.frames,
            max_new_tokens=cfg.max_new_tokens,
            cache=cfg.cache_tokens,
            cache_dir=cfg.resolved_cache_dir(),
        ).to_dict()

    return await worker.with_model(run)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def text_embedder() -> Embedder:
    """The sentence embedder of chapters and locate, loaded once per server."""
    from videopipe.embedders.text import TextEmbedder

    return TextEmbedder()


def _timeline(cfg: PipelineConfig, path: Path, text: str | None) -> Timeline:
    """The timed text of ``path`` as the jobs read it (their sources' notes kept)."""
    from videopipe.chapters.job import chapter_sources
    from videopipe.text.build import load_timeline
    from videopipe.text.speech import ASRConfig

    sources, notes = chapter_sources(text or cfg.text, asr_model=cfg.asr_model)
    timeline = load_timeline(
        path,
        sources,
        asr=ASRConfig(model=cfg.asr_model),
        subtitles_win=not cfg.speech_with_subtitles,
        cache=cfg.cache_tokens,
        cache_dir=cfg.resolved_cache_dir(),
    )
    return replace(timeline, notes=(*notes, *timeline.notes))
