"""The FastAPI application: :func:`create_app` builds it from :class:`ServeSettings`.

Routes (every ``/v1`` route needs the API key when one is set; every route, a ``Host`` the
server answers to, and a POST from a browser, the server's own origin: see ``hosts``):

``GET  /``                     the web page (``static/index.html``)
``GET  /health``               liveness, the model, the queue and the worker's counters
``GET  /v1/models``            the served model, OpenAI's list shape
``POST /v1/chat/completions``  OpenAI chat completions about a video (``stream`` for SSE)
``POST /v1/search``            the index (``--index``) searched for a text query
``GET  /v1/frames``            a JPEG thumbnail of ``video`` at ``t`` seconds
``GET  /v1/videos``            the video files under the allowed folders
``GET  /v1/videos/file``       one of them, with HTTP range support (the page's player)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videopipe.errors import VideoPipeError
from videopipe.serve.errors import ApiError, from_exception, send_error
from videopipe.serve.hosts import HostCheck, HostPolicy
from videopipe.serve.paths import PathPolicy
from videopipe.serve.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    SearchRequest,
    SearchResponse,
)
from videopipe.serve.schemas import (
    Message as ChatMessage,
)
from videopipe.serve.settings import ServeSettings
from videopipe.serve.worker import Job, ModelWorker, Ticket

if TYPE_CHECKING:
    from videopipe.models.contract import VideoLLM
    from videopipe.pipeline import Decoded, Pipeline
    from videopipe.types import Answer

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"
KEY_COOKIE = "videopipe_key"
_POLL_S = 0.2  # how often a waiting request checks that its client is still there
_KEEPALIVE_S = 10.0
T = TypeVar("T")


def create_app(settings: ServeSettings, *, model: VideoLLM | None = None) -> FastAPI:
    """The server's application. ``model``: an already built model (tests); default: the one
    ``settings.config.model`` names, loaded once when the application starts."""
    worker = ModelWorker(
        settings.config, model=model, max_queue=settings.max_queue, decode_threads=settings.decode_threads
    )
    policy = PathPolicy(
        settings.allow_dirs,
        allow_remote=settings.allow_remote,
        remote_max_bytes=settings.remote_max_bytes,
        remote_timeout_s=settings.remote_timeout_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(worker.start)
        try:
            yield
        finally:
            worker.close()

    app = FastAPI(title="videopipe", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker = worker
    app.state.settings = settings
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostCheck, policy=HostPolicy.for_server(settings.host, settings.allowed_hosts))
    _error_handlers(app)

    api = APIRouter(prefix="/v1", dependencies=[Depends(_auth(settings.api_key))])
    served = settings.model_name
    retriever: list[Any] = []  # built on the first search

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": served,
            "in_flight": worker.in_flight,
            "max_queue": worker.max_queue,
            "auth": settings.api_key is not None,
            "index": settings.config.index_dir is not None,
            "counters": worker.counters.to_dict(),
        }

    @api.get("/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": served, "object": "model", "created": 0, "owned_by": "videopipe"}],
        }

    @api.post("/chat/completions", response_model=None)
    async def chat(body: ChatRequest, request: Request) -> ChatCompletion | StreamingResponse:
        if body.model not in (served, "videopipe"):
            raise ApiError(
                404, f"model {body.model!r} is not served here; this server serves {served!r}", param="model"
            )
        ref, question = _video_and_question(body.messages)
        vref = policy.check(ref, param="messages")
        ticket = worker.admit()
        tmp: Path | None = None
        handed_over = False
        try:
            path = vref.path
            if vref.url is not None:
                tmp = Path(tempfile.mkdtemp(prefix="videopipe-serve-"))
                path = await _while_connected(request, None, policy.fetch(vref.url, tmp))
                request.state.path_aliases = {str(path): vref.url}  # messages name the URL
            assert path is not None
            job = Job(
                video=path,
                question=question,
                overrides=body.videopipe.given() if body.videopipe else {},
                max_new_tokens=body.max_completion_tokens or body.max_tokens,
                temperature=float(body.temperature or 0.0),
            )
            pipe, decoded = await _while_connected(request, job, worker.decode(job))
            rid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
            if body.stream:
                handed_over = True
                events = _stream(
                    request, worker, pipe, decoded, job, ticket, tmp, rid, created, served, vref.url
                )
                return _SSE(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
            answer = await _while_connected(request, job, worker.answer(pipe, decoded, job))
            return ChatCompletion(
                id=rid,
                created=created,
                model=served,
                choices=[Choice(message=AssistantMessage(content=answer.text))],
                videopipe=_answer_dict(answer, vref.url),
            )
        finally:
            if not handed_over:
                ticket.release()
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)

    @api.post("/search")
    async def search(body: SearchRequest) -> SearchResponse:
        index_dir = settings.config.index_dir
        if index_dir is None:
            raise ApiError(404, "this server has no index (start it with --index DIR)", code="no_index")
        video = policy.check(body.video, param="video").path if body.video else None

        def run() -> list[Any]:
            from videopipe.retrieval.search import Retriever, check_query

            check_query(body.query, body.k)
            if not retriever:
                retriever.append(Retriever(index_dir))
            return retriever[0].search(body.query, body.k, video=video)

        hits = await worker.cpu(run)
        return SearchResponse(query=body.query, hits=[h.to_dict() for h in hits])

    @api.get("/frames")
    async def frames(
        video: str = Query(..., max_length=4096),
        t: float = Query(..., ge=0, le=1e7),
        height: int = Query(160, ge=16, le=720),
    ) -> Response:
        from videopipe.serve.media import thumbnail_jpeg

        path = policy.check(video).path
        if path is None:
            raise ApiError(400, "thumbnails are made of local videos only", param="video")
        jpeg = await worker.cpu(
            thumbnail_jpeg, path, t, height_px=height, backend=settings.config.decode_backend
        )
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    @api.get("/videos")
    async def videos() -> dict[str, Any]:
        return {"videos": await asyncio.to_thread(policy.list_videos)}

    @api.get("/videos/file")
    async def video_file(video: str = Query(..., max_length=4096)) -> FileResponse:
        path = policy.video_file(video)
        return FileResponse(path, media_type=_media_type(path))  # answers Range requests (206)

    app.include_router(api)
    return app


# -- the chat request ---------------------------------------------------------------------------
def _video_and_question(messages: list[ChatMessage]) -> tuple[str, str]:
    """The video (the last one the user's messages name) and the question (the text of the
    last user message)."""
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise ApiError(400, "the messages have no user message with a question", param="messages")
    video = None
    for m in users:
        for part in m.content if isinstance(m.content, list) else ():
            if part.type != "text":
                video = part.ref
    if video is None:
        raise ApiError(
            400,
            'no video in the messages: add a part {"type": "video_url", "video_url": {"url": "file:///..."}}',
            param="messages",
        )
    last = users[-1].content
    text = last if isinstance(last, str) else " ".join(p.text for p in last or () if p.type == "text")
    if not text.strip():
        raise ApiError(400, "the last user message has no question text", param="messages")
    return video, text.strip()


def _answer_dict(answer: Answer, url: str | None) -> dict[str, Any]:
    d = answer.to_dict()
    if url is not None:  # a fetched video: name the URL, not the deleted temp file
        d["video"] = url
        for hit in d["evidence"]:
            hit["video"] = url
    return d


async def _while_connected(request: Request, job: Job | None, work: Awaitable[T]) -> T:
    """``await work``, cancelled (and its job with it) if the client disconnects meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ApiError(499, "the client disconnected", code="cancelled")
    finally:
        if not task.done():
            if job is not None:
                job.cancel()
            task.cancel()


def _sse(obj: Any) -> str:
    data = obj.model_dump_json(exclude_none=True) if hasattr(obj, "model_dump_json") else json.dumps(obj)
    return f"data: {data}\n\n"


async def _stream(
    request: Request,
    worker: ModelWorker,
    pipe: Pipeline,
    decoded: Decoded,
    job: Job,
    ticket: Ticket,
    tmp: Path | None,
    rid: str,
    created: int,
    model: str,
    url: str | None,
) -> AsyncIterator[str]:
    """The server-sent events of a streamed answer: a role chunk, one chunk per piece of the
    answer as the model generates it, a last chunk with ``finish_reason`` and the ``videopipe``
    object, then ``[DONE]``. An error after the stream began is an ``{"error": ...}`` event."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()
    job.on_text = lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)

    def chunk(delta: Delta, **kw: Any) -> str:
        return _sse(
            ChatCompletionChunk(
                id=rid, created=created, model=model, choices=[ChunkChoice(delta=delta)], **kw
            )
        )

    task = asyncio.ensure_future(worker.answer(pipe, decoded, job))
    try:
        yield chunk(Delta(role="assistant", content=""))
        while True:
            get = asyncio.ensure_future(pieces.get())
            done, _ = await asyncio.wait({get, task}, timeout=_POLL_S, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                yield chunk(Delta(content=get.result()))
                continue
            get.cancel()
            if task in done:
                break
            if await request.is_disconnected():
                return
        while not pieces.empty():
            yield chunk(Delta(content=pieces.get_nowait()))
        try:
            answer = task.result()
        except Exception as e:  # noqa: BLE001 - the stream has begun: the error is an event
            yield f"data: {json.dumps(_api_error(request, e).body())}\n\n"
            return
        last = ChatCompletionChunk(
            id=rid,
            created=created,
            model=model,
            choices=[ChunkChoice(delta=Delta(), finish_reason="stop")],
            videopipe=_answer_dict(answer, url),
        )
        yield _sse(last)
        yield "data: [DONE]\n\n"
    finally:
        if not task.done():
            job.cancel()
            task.cancel()
        ticket.release()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


class _SSE(StreamingResponse):
    """A streaming response that closes its event generator however the stream ends (a client
    that went away included), so the request's cleanup runs at once."""

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


def _media_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# -- auth, limits, errors ---------------------------------------------------------------------------
def _auth(key: str | None) -> Any:
    """The API-key check: ``Authorization: Bearer KEY`` (or the web page's cookie), compared
    in constant time."""
    expected = key.encode() if key is not None else None

    async def check(request: Request) -> None:
        if expected is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else request.cookies.get(KEY_COOKIE, "")
        if not given:
            raise ApiError(
                401, "this server needs an API key: send Authorization: Bearer KEY", code="missing_api_key"
            )
        if not hmac.compare_digest(given.encode(), expected):
            raise ApiError(401, "the API key is not valid", code="invalid_api_key")

    return check


def _api_error(request: Request, e: BaseException, *, log_bug: bool = True) -> ApiError:
    """``from_exception(e)`` with the server's paths redacted from its message: the folders
    clients may name are kept, a fetched video's temp file becomes its URL."""
    return from_exception(
        e,
        log_bug=log_bug,
        keep=request.app.state.settings.allow_dirs,
        aliases=getattr(request.state, "path_aliases", None),
    )


class _BodyTooLarge(Exception):
    pass


class _BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413: by ``Content-Length`` before reading,
    and while reading a body that declares none (chunked)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(send)
        seen = 0
        over = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _BodyTooLarge()
            return message

        async def replaced(message: Message) -> None:
            # the framework answers a body it could not read with its own error: ours instead
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send)

        try:
            await self.app(scope, counted, replaced)
        except _BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await send_error(send, ApiError(413, f"the request body is larger than {self.max_bytes} bytes"))


def _error_handlers(app: FastAPI) -> None:
    def respond(err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return respond(e)

    @app.exception_handler(VideoPipeError)
    async def videopipe_error(request: Request, e: VideoPipeError) -> JSONResponse:
        return respond(_api_error(request, e))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        message = (
            f"{where}: {first.get('msg', 'invalid request')}"
            if where
            else first.get("msg", "invalid request")
        )
        if first.get("type") == "json_invalid":
            message = "the request body is not valid JSON"
        return respond(ApiError(400, message, param=where or None))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        message = {
            404: f"no route {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }
        return respond(ApiError(e.status_code, message.get(e.status_code, str(e.detail)), headers=e.headers))

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        return respond(_api_error(request, e, log_bug=False))  # starlette logs the traceback
