"""``POST /v1/chat/completions``: the request's conversation (its video, the question, the
turns before it), the worker's two stages, and the answer as one JSON body or as server-sent
events.

The request's resources (its place in the worker's queue, a fetched video's temp folder) are
held by one :class:`contextlib.AsyncExitStack`: released when the handler returns, or handed
to the event stream, which releases them however the stream ends.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Send

from videopipe.models.contract import Turn
from videopipe.serve.errors import ApiError
from videopipe.serve.paths import VideoRef
from videopipe.serve.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    Message,
    Usage,
)
from videopipe.serve.state import Served, request_error
from videopipe.serve.worker import Job

if TYPE_CHECKING:
    from videopipe.pipeline import Decoded, Pipeline
    from videopipe.types import Answer

__all__ = ["complete"]

_POLL_S = 0.2  # how often a waiting request checks that its client is still there
T = TypeVar("T")


async def complete(body: ChatRequest, request: Request, s: Served) -> ChatCompletion | StreamingResponse:
    """The chat completion of ``body`` (see the module docstring)."""
    served_name = s.model_name
    if body.model not in (served_name, "videopipe"):
        raise ApiError(
            404, f"model {body.model!r} is not served here; this server serves {served_name!r}", param="model"
        )
    talk = _conversation(body.messages)
    async with AsyncExitStack() as held:
        vref, shown = await _video_ref(talk, s, held)
        held.callback(s.worker.admit().release)
        path = vref.path
        if shown is not None and vref.path is not None:
            request.state.path_aliases = {str(vref.path): shown}  # an inline video: never its path
        if vref.url is not None:
            tmp = Path(tempfile.mkdtemp(prefix="videopipe-serve-"))
            held.callback(shutil.rmtree, tmp, ignore_errors=True)
            path = await _while_connected(request, None, s.fetcher.fetch(vref.url, tmp))
            request.state.path_aliases = {str(path): vref.url}  # messages name the URL
        assert path is not None
        job = Job(
            video=path,
            question=talk.question,
            history=talk.history,
            media=body.media(),
            overrides=body.videopipe.given() if body.videopipe else {},
            max_new_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=float(body.temperature or 0.0),
        )
        held.callback(job.done)
        pipe, decoded = await _while_connected(request, job, s.worker.decode(job))
        reply = _Reply(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), served_name, shown, path)
        if body.stream:
            usage = body.stream_options is not None and body.stream_options.include_usage
            events = _stream(request, s, pipe, decoded, job, reply, include_usage=usage)
            return _SSE(events, held.pop_all())
        answer = await _while_connected(request, job, s.worker.answer(pipe, decoded, job))
        return ChatCompletion(
            id=reply.id,
            created=reply.created,
            model=reply.model,
            choices=[
                Choice(
                    message=AssistantMessage(content=answer.text),
                    finish_reason=_finish_reason(answer),
                )
            ],
            usage=Usage.of(answer.stats),
            videopipe=reply.answer_dict(answer),
        )


class _Reply:
    """What every chunk of one reply repeats: its id, time, model, and the URL of a fetched video."""

    def __init__(self, id: str, created: int, model: str, url: str | None, path: Path | None) -> None:
        self.id, self.created, self.model, self.url, self.path = id, created, model, url, path

    def answer_dict(self, answer: Answer) -> dict[str, Any]:
        d = answer.to_dict()
        if self.url is not None:  # a fetched or inline video: its URL, not the server's temp file
            d["video"] = self.url
            for hit in d["evidence"]:
                hit["video"] = self.url
            if self.path is not None:
                notes = d["stats"]["notes"]
                notes[:] = [n.replace(str(self.path), self.url) for n in notes]
        return d

    def chunk(self, delta: Delta, *, finish_reason: Any = None, **kw: Any) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)],
            **kw,
        )


async def _video_ref(talk: _Conversation, s: Served, held: AsyncExitStack) -> tuple[VideoRef, str | None]:
    """The checked video of ``talk`` and how replies name it when not by its path (a URL, an
    inline video's media type). An inline video without a uuid is deleted with the request;
    a uuid names the video for later requests (``video_store.py``)."""
    ref, name = talk.video, talk.uuid
    if talk.images:
        return VideoRef(path=await _images_video(talk.images, s, held)), "images"
    if ref is None:
        assert name is not None
        kind, ref = s.store.recall(name)
        if kind == "inline":
            return VideoRef(path=Path(ref)), "data:video"
    elif s.store.is_inline(ref):
        path, shown = s.store.save_inline(ref)
        if name is not None:
            s.store.remember(name, "inline", str(path))
        else:
            held.callback(path.unlink, missing_ok=True)
        return VideoRef(path=path), shown
    vref = s.policy.check(ref, param="messages")
    if name is not None and talk.video is not None:
        s.store.remember(name, "ref", ref)
    return vref, vref.url


async def _images_video(refs: tuple[str, ...], s: Served, held: AsyncExitStack) -> Path:
    """The video made of the images ``refs`` (data URLs, or files the path policy allows),
    in a temp folder deleted with the request."""
    from videopipe.serve.images import MAX_IMAGES, image_bytes, images_video

    if len(refs) > MAX_IMAGES:
        raise ApiError(400, f"at most {MAX_IMAGES} image_url parts per message", param="messages")
    images: list[bytes | Path] = []
    for ref in refs:
        data = image_bytes(ref)
        if data is None:
            path = s.policy.check(ref, param="messages").path
            if path is None:
                raise ApiError(400, "image_url parts are data: URLs or local files", param="messages")
            images.append(path)
        else:
            images.append(data)
    tmp = Path(tempfile.mkdtemp(prefix="videopipe-images-"))
    held.callback(shutil.rmtree, tmp, ignore_errors=True)
    return await s.worker.cpu(images_video, images, tmp)  # type: ignore[no-any-return]


def _finish_reason(answer: Answer) -> Any:
    return "length" if answer.stats.finish_reason == "length" else "stop"


@dataclass(frozen=True)
class _Conversation:
    """What the messages ask: the video, the question (the last user message's text) and the
    turns before it (system, user, assistant; the one that named the video marked)."""

    video: str | None  # None: named by ``uuid`` only, or made of ``images``
    uuid: str | None
    question: str
    history: tuple[Turn, ...]
    images: tuple[str, ...] = ()  # image_url parts: the frames of the video


def _text(content: str | list[Any] | None) -> str:
    if isinstance(content, str):
        return content.strip()
    return " ".join(p.text for p in content or () if p.type == "text").strip()


def _conversation(messages: list[Message]) -> _Conversation:
    """The conversation the messages hold. The video is the last one the user's messages name,
    placed where that message is; earlier videos' parts are left out (one video per request).
    Messages after the last user message and tool messages are left out."""
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last is None:
        raise ApiError(400, "the messages have no user message with a question", param="messages")
    video, uuid, where, images = None, None, None, ()
    for i, m in enumerate(messages[: last + 1]):
        parts = m.content if m.role == "user" and isinstance(m.content, list) else []
        found = tuple(p.url for p in parts if p.type == "image_url")
        if found:
            video, uuid, where, images = None, None, i, found
        for part in parts:
            if part.type in ("video_url", "video") and (part.ref is not None or part.uuid is not None):
                video, uuid, where, images = part.ref, part.uuid, i, ()
    if where is None:
        raise ApiError(
            400,
            'no video in the messages: add a part {"type": "video_url", "video_url": {"url": "file:///..."}}',
            param="messages",
        )
    question = _text(messages[last].content)
    if not question:
        raise ApiError(400, "the last user message has no question text", param="messages")
    history = []
    for i, m in enumerate(messages[:last]):
        role = "system" if m.role in ("system", "developer") else m.role
        text = _text(m.content)
        if role in ("system", "user", "assistant") and (text or i == where):
            history.append(Turn(role=role, text=text, video=i == where))
    return _Conversation(video, uuid, question, tuple(history), images)


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
    s: Served,
    pipe: Pipeline,
    decoded: Decoded,
    job: Job,
    reply: _Reply,
    *,
    include_usage: bool = False,
) -> AsyncIterator[str]:
    """The server-sent events of a streamed answer: a role chunk, one chunk per piece of the
    answer as the model generates it, a last chunk with ``finish_reason`` and the ``videopipe``
    object, with ``include_usage`` a chunk with no choices and the ``usage``, then ``[DONE]``. An error after the stream began is an ``{"error": ...}`` event."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()
    job.on_text = lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece)
    task = asyncio.ensure_future(s.worker.answer(pipe, decoded, job))
    try:
        yield _sse(reply.chunk(Delta(role="assistant", content="")))
        while True:
            get = asyncio.ensure_future(pieces.get())
            done, _ = await asyncio.wait({get, task}, timeout=_POLL_S, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                yield _sse(reply.chunk(Delta(content=get.result())))
                continue
            get.cancel()
            if task in done:
                break
            if await request.is_disconnected():
                return
        while not pieces.empty():
            yield _sse(reply.chunk(Delta(content=pieces.get_nowait())))
        try:
            answer = task.result()
        except Exception as e:  # noqa: BLE001 - the stream has begun: the error is an event
            yield f"data: {json.dumps(request_error(request, e).body())}\n\n"
            return
        last = reply.chunk(Delta(), finish_reason=_finish_reason(answer), videopipe=reply.answer_dict(answer))
        yield _sse(last)
        if include_usage:  # OpenAI's shape: one more chunk, no choices, the usage
            yield _sse(
                last.model_copy(update={"choices": [], "usage": Usage.of(answer.stats), "videopipe": None})
            )
        yield "data: [DONE]\n\n"
    finally:
        if not task.done():
            job.cancel()
            task.cancel()


class _SSE(StreamingResponse):
    """The event stream: it closes its event generator and then ``held`` (the request's
    resources) however the stream ends (a client that went away included), at once."""

    def __init__(self, events: AsyncIterator[str], held: AsyncExitStack) -> None:
        super().__init__(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.held = held

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            try:
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
            finally:
                await self.held.aclose()
