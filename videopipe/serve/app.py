"""The FastAPI application: :func:`create_app` builds it from :class:`ServeSettings`.

Routes (every ``/v1`` route needs the API key when one is set; every route, a ``Host`` the
server answers to, and a POST from a browser, the server's own origin: see ``hosts``); their
handlers are in ``routes.py``, the chat completion's in ``chat.py``:

``GET  /``                     the web page (``static/index.html``)
``GET  /health``               liveness, the model, the queue and the worker's counters
``GET  /v1/models``            the served model, OpenAI's list shape
``POST /v1/chat/completions``  OpenAI chat completions about a video (``stream`` for SSE)
``POST /v1/search``            the index (``--index``) searched for a text query
``POST /v1/chapters``          a local video's chapters (``video_jobs.py``; the CLI's ``--json``)
``POST /v1/locate``            where a query happens in a local video, best span first
``POST /v1/summarize``         a local video summarised with the model (map-reduce over chunks)
``GET  /v1/frames``            a JPEG thumbnail of ``video`` at ``t`` seconds
``GET  /v1/videos``            the video files under the allowed folders
``GET  /v1/videos/file``       one of them, with HTTP range support (the page's player)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videopipe.errors import VideoPipeError
from videopipe.serve.asgi import HttpMiddleware, check_api_key
from videopipe.serve.errors import ApiError, send_error
from videopipe.serve.hosts import HostCheck, HostPolicy
from videopipe.serve.paths import PathPolicy
from videopipe.serve.remote import RemoteFetcher
from videopipe.serve.routes import api, public
from videopipe.serve.settings import ServeSettings
from videopipe.serve.state import Served, request_error
from videopipe.serve.worker import ModelWorker

if TYPE_CHECKING:
    from videopipe.models.contract import VideoLLM

__all__ = ["create_app"]

KEY_COOKIE = "videopipe_key"


def create_app(settings: ServeSettings, *, model: VideoLLM | None = None) -> FastAPI:
    """The server's application. ``model``: an already built model (tests); default: the one
    ``settings.config.model`` names, loaded once when the application starts."""
    worker = ModelWorker.for_settings(settings, model=model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(worker.start)
        try:
            yield
        finally:
            worker.close()
            app.state.served.store.close()

    app = FastAPI(title="videopipe", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.worker = worker
    app.state.settings = settings
    app.state.served = Served(
        settings=settings,
        worker=worker,
        policy=PathPolicy(settings.allow_dirs, allow_remote=settings.allow_remote),
        fetcher=RemoteFetcher.of(settings),
    )
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HostCheck, policy=HostPolicy.for_server(settings.host, settings.allowed_hosts))
    _error_handlers(app)
    app.include_router(public)
    app.include_router(api, dependencies=[Depends(_auth(settings.api_key))])
    return app


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
        check_api_key(given.encode(), expected)

    return check


class _BodyTooLarge(Exception):
    pass


class _BodyLimit(HttpMiddleware):
    """Refuse request bodies over ``max_bytes`` with 413: by ``Content-Length`` before reading,
    and while reading a body that declares none (chunked)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        return respond(request_error(request, e))

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
        return respond(request_error(request, e, log_bug=False))  # starlette logs the traceback
