"""``videopipe mcp --transport http``: the MCP SDK's streamable-HTTP application behind the
server's API key (the rules of ``serve``: ``VIDEOPIPE_API_KEY`` or ``--api-key-file``; a
request without ``Authorization: Bearer KEY`` gets 401 before the SDK sees it)."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerKey", "mcp_http_app"]


class BearerKey:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer KEY`` (compared in
    constant time); others get 401 with OpenAI's error shape and ``WWW-Authenticate: Bearer``.
    Lifespan events pass through."""

    def __init__(self, app: ASGIApp, *, key: str) -> None:
        self.app = app
        self._key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or ()).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        given = token.strip() if scheme.lower() == b"bearer" else b""
        if not given:
            await _refuse(
                send, "this server needs an API key: send Authorization: Bearer KEY", "missing_api_key"
            )
        elif not hmac.compare_digest(given, self._key):
            await _refuse(send, "the API key is not valid", "invalid_api_key")
        else:
            await self.app(scope, receive, send)


async def _refuse(send: Send, message: str, code: str) -> None:
    body = json.dumps(
        {"error": {"message": message, "type": "authentication_error", "param": None, "code": code}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def mcp_http_app(server: MCPServer, *, host: str, api_key: str | None) -> ASGIApp:
    """The streamable-HTTP application of ``server`` (at ``/mcp``), behind ``api_key`` when given."""
    app: ASGIApp = server.streamable_http_app(host=host)
    return app if api_key is None else BearerKey(app, key=api_key)
