"""The route handlers. ``page`` and ``health`` answer anyone the ``Host`` check lets in; the
``api`` router (``/v1``) is included by ``create_app`` behind the API-key check. Each handler
takes the server's parts (:class:`~videopipe.serve.state.Served`) as a dependency."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from videopipe.serve.chat import complete
from videopipe.serve.errors import ApiError
from videopipe.serve.schemas import ChatCompletion, ChatRequest, SearchRequest, SearchResponse
from videopipe.serve.state import Served, served
from videopipe.serve.video_jobs import (
    ChaptersRequest,
    LocateRequest,
    SummarizeRequest,
    run_chapters,
    run_job,
    run_locate,
    run_summarize,
)

__all__ = ["api", "public"]

STATIC = Path(__file__).parent / "static"

public = APIRouter()
api = APIRouter(prefix="/v1")
Parts = Annotated[Served, Depends(served)]


@public.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@public.get("/health")
async def health(s: Parts) -> dict[str, Any]:
    return {
        "status": "ok",
        "model": s.model_name,
        "in_flight": s.worker.in_flight,
        "max_queue": s.worker.max_queue,
        "auth": s.settings.api_key is not None,
        "index": s.settings.config.index_dir is not None,
        "counters": s.worker.counters.to_dict(),
        "kv_cache": None if (kv := s.worker.prefix_cache) is None else kv.stats(),
        "decode_threads": s.settings.decode_threads,
        "reader_workers": _reader_workers(),
    }


@api.get("/models")
async def models(s: Parts) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": s.model_name, "object": "model", "created": 0, "owned_by": "videopipe"}],
    }


@api.post("/chat/completions", response_model=None)
async def chat(body: ChatRequest, request: Request, s: Parts) -> ChatCompletion | StreamingResponse:
    return await complete(body, request, s)


@api.post("/search")
async def search(body: SearchRequest, s: Parts) -> SearchResponse:
    index_dir = s.settings.config.index_dir
    if index_dir is None:
        raise ApiError(404, "this server has no index (start it with --index DIR)", code="no_index")
    video = s.policy.check(body.video, param="video").path if body.video else None

    def run() -> list[Any]:
        from videopipe.retrieval.search import Retriever, check_query

        check_query(body.query, body.k)
        if not s.retriever:
            s.retriever.append(Retriever(index_dir))
        return s.retriever[0].search(body.query, body.k, video=video)

    hits = await s.worker.cpu(run)
    return SearchResponse(query=body.query, hits=[h.to_dict() for h in hits])


@api.post("/chapters")
async def chapters(body: ChaptersRequest, s: Parts) -> dict[str, Any]:
    return await run_job(s.worker, s.policy, s.fetcher, body, run_chapters)


@api.post("/locate")
async def locate(body: LocateRequest, s: Parts) -> dict[str, Any]:
    return await run_job(s.worker, s.policy, s.fetcher, body, run_locate)


@api.post("/summarize")
async def summarize(body: SummarizeRequest, s: Parts) -> dict[str, Any]:
    return await run_job(s.worker, s.policy, s.fetcher, body, run_summarize)


@api.get("/frames")
async def frames(
    s: Parts,
    video: str = Query(..., max_length=4096),
    t: float = Query(..., ge=0, le=1e7),
    height: int = Query(160, ge=16, le=720),
) -> Response:
    from videopipe.serve.media import thumbnail_jpeg

    path = s.policy.check(video).path
    if path is None:
        raise ApiError(400, "thumbnails are made of local videos only", param="video")
    jpeg = await s.worker.cpu(
        thumbnail_jpeg, path, t, height_px=height, backend=s.settings.config.decode_backend
    )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@api.get("/videos")
async def videos(s: Parts) -> dict[str, Any]:
    return {"videos": await asyncio.to_thread(s.policy.list_videos)}


@api.get("/videos/file")
async def video_file(s: Parts, video: str = Query(..., max_length=4096)) -> FileResponse:
    path = s.policy.video_file(video)
    return FileResponse(path, media_type=_media_type(path))  # answers Range requests (206)


def _reader_workers() -> int:
    from videopipe.decode.pyav_backend import usable_cores

    return usable_cores()


def _media_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
