"""Errors as the OpenAI API shapes them, ``{"error": {"message", "type", "param", "code"}}``,
and the mapping of videopipe's errors to HTTP statuses.

400 a malformed request, 401 a missing/wrong API key, 403 a path outside the allowed folders
(or a remote URL on a server without ``--allow-remote``), 404 a missing file or unknown
route/model, 413 a body or remote video over the limit, 422 a video that cannot be read (the
one-line reason the CLI prints), 503 the queue is full (with ``Retry-After``), 504 a remote
fetch over its time limit, 500 a bug (the message says so; the traceback goes to the log).
Messages never carry file contents or tracebacks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from videopipe.errors import (
    DecodeError,
    OutOfRangeError,
    VideoNotFoundError,
    VideoPipeError,
    one_line,
)

__all__ = ["ApiError", "error_body", "from_exception", "TYPES"]

log = logging.getLogger("videopipe.serve")

#: the OpenAI error ``type`` of each status
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
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


def from_exception(e: BaseException, *, log_bug: bool = True) -> ApiError:
    """The response for an error raised while answering: videopipe's own errors keep their
    one-line message (the CLI's) with a status by kind; anything else is a bug, logged with its
    traceback (unless the caller's framework logs it: ``log_bug``) and answered 500 without
    details."""
    if isinstance(e, ApiError):
        return e
    if isinstance(e, VideoNotFoundError):
        return ApiError(404, one_line(e, 1000), code="video_not_found")
    if isinstance(e, DecodeError):
        return ApiError(422, one_line(e, 1000), code="unreadable_video")
    if isinstance(e, OutOfRangeError):
        return ApiError(400, one_line(e, 1000), code="out_of_range")
    if isinstance(e, VideoPipeError):
        return ApiError(400, one_line(e, 1000), code=type(e).__name__)
    if log_bug:
        log.error("internal error while answering a request", exc_info=e)
    return ApiError(500, f"internal error ({type(e).__name__}); the server log has the details")
