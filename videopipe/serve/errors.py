"""Errors as the OpenAI API shapes them, ``{"error": {"message", "type", "param", "code"}}``,
and the mapping of videopipe's errors to HTTP statuses.

400 a malformed request, 401 a missing/wrong API key, 403 a path outside the allowed folders
(or a remote URL on a server without ``--allow-remote``), 404 a missing file or unknown
route/model, 413 a body or remote video over the limit, 422 a video that cannot be read (the
one-line reason the CLI prints), 503 the queue is full (with ``Retry-After``), 504 a remote
fetch over its time limit, 421 a ``Host`` the server does not answer to (see ``hosts``), 500 a
bug (the message says so; the traceback goes to the log). Messages never carry file contents
or tracebacks, and the messages of errors raised while answering never carry a server-side
path (:func:`redact_paths`): only paths inside the allowed folders, which the client may name.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.types import Send

from videopipe.errors import (
    DecodeError,
    OutOfRangeError,
    VideoNotFoundError,
    VideoPipeError,
    one_line,
)

__all__ = ["ApiError", "error_body", "from_exception", "redact_paths", "send_error", "TYPES", "SERVER_PATH"]

log = logging.getLogger("videopipe.serve")

#: the OpenAI error ``type`` of each status
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    421: "invalid_request_error",
    422: "unprocessable_video_error",
    499: "cancelled",
    500: "server_error",
    503: "overloaded_error",
    504: "timeout_error",
}


class ApiError(Exception):
    """An error response: HTTP ``status``, a one-line ``message``, optional ``param`` (the
    request field at fault), ``code`` and response ``headers``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = " ".join(str(message).split())
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, param=self.param, code=self.code)


def error_body(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": TYPES.get(status, "invalid_request_error" if status < 500 else "server_error"),
            "param": param,
            "code": code,
        }
    }


#: what a server-side path in an error message becomes
SERVER_PATH = "<server path>"
# an absolute path (or a file:// URL) that is not the path part of another URL or a word/word
_ABS_PATH = re.compile(r"(?<![\w.~:/\\\]-])(?:file://)?/[^\s'\"<>]+")
_TRAILING = re.compile(r"[.,;:)\]}]+$")


def redact_paths(message: str, *, keep: Sequence[Path] = (), aliases: Mapping[str, str] | None = None) -> str:
    """``message`` with each server-side absolute path replaced: first every ``aliases`` key by
    its value (a fetched video's temp file by its URL), then every other absolute path that
    does not lie inside a ``keep`` folder by ``<server path>``."""
    for path, shown in (aliases or {}).items():
        message = message.replace(path, shown)
    roots = [str(k).rstrip("/") + "/" for k in keep]

    def replace(m: re.Match[str]) -> str:
        token = m.group(0)
        tail = _TRAILING.search(token)
        end = tail.group(0) if tail else ""
        path = token[: len(token) - len(end)].removeprefix("file://")
        if any(path.startswith(r) or path + "/" == r for r in roots):
            return token
        return SERVER_PATH + end

    return _ABS_PATH.sub(replace, message)


async def send_error(send: Send, err: ApiError) -> None:
    """Answer ``err`` from ASGI middleware (before the application and its handlers run)."""
    body = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def from_exception(
    e: BaseException,
    *,
    log_bug: bool = True,
    keep: Sequence[Path] = (),
    aliases: Mapping[str, str] | None = None,
) -> ApiError:
    """The response for an error raised while answering: videopipe's own errors keep their
    one-line message (the CLI's, with server-side paths redacted: see :func:`redact_paths`,
    which ``keep`` and ``aliases`` go to) with a status by kind; anything else is a bug, logged
    with its traceback (unless the caller's framework logs it: ``log_bug``) and answered 500
    without details."""
    if isinstance(e, ApiError):
        return e

    def line(err: BaseException) -> str:
        return redact_paths(one_line(err, 1000), keep=keep, aliases=aliases)

    if isinstance(e, VideoNotFoundError):
        return ApiError(404, line(e), code="video_not_found")
    if isinstance(e, DecodeError):
        return ApiError(422, line(e), code="unreadable_video")
    if isinstance(e, OutOfRangeError):
        return ApiError(400, line(e), code="out_of_range")
    if isinstance(e, VideoPipeError):
        return ApiError(400, line(e), code=type(e).__name__)
    if log_bug:
        log.error("internal error while answering a request", exc_info=e)
    return ApiError(500, f"internal error ({type(e).__name__}); the server log has the details")
