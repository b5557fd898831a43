"""What the server's request layers share: :class:`HttpMiddleware`, the base of its ASGI
middleware (the body limit, the ``Host`` check, the MCP app's API key), and
:func:`check_api_key`, the one API-key rule of ``serve``'s routes and ``mcp --transport http``."""

from __future__ import annotations

import abc
import hmac
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from videopipe.serve.errors import ApiError

__all__ = ["HttpMiddleware", "check_api_key"]


class HttpMiddleware(abc.ABC):
    """ASGI middleware that acts on HTTP requests (:meth:`http`); every other scope (lifespan,
    websocket) passes through to ``app`` untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abc.abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request: answer it, or hand it on to ``self.app``."""


def check_api_key(given: bytes, expected: bytes, *, headers: Mapping[str, str] | None = None) -> None:
    """Raise the 401 for a key ``given`` that is missing (empty) or is not ``expected``
    (compared in constant time); ``headers`` go with the response."""
    if not given:
        raise ApiError(
            401,
            "this server needs an API key: send Authorization: Bearer KEY",
            code="missing_api_key",
            headers=headers,
        )
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "the API key is not valid", code="invalid_api_key", headers=headers)
