"""``videopipe mcp --transport http``: the MCP SDK's streamable-HTTP application behind the
server's API key (the rules of ``serve``: ``VIDEOPIPE_API_KEY`` or ``--api-key-file``; a
request without ``Authorization: Bearer KEY`` gets 401 before the SDK sees it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from videopipe.serve.asgi import HttpMiddleware, check_api_key
from videopipe.serve.errors import ApiError, send_error

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerKey", "mcp_http_app"]


class BearerKey(HttpMiddleware):
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer KEY`` (compared in
    constant time); others get 401 with OpenAI's error shape and ``WWW-Authenticate: Bearer``.
    Lifespan events pass through."""

    def __init__(self, app: ASGIApp, *, key: str) -> None:
        super().__init__(app)
        self._key = key.encode()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = dict(scope.get("headers") or ()).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        given = token.strip() if scheme.lower() == b"bearer" else b""
        try:
            check_api_key(given, self._key, headers={"WWW-Authenticate": "Bearer"})
        except ApiError as refused:
            await send_error(send, refused)
        else:
            await self.app(scope, receive, send)


def mcp_http_app(server: MCPServer, *, host: str, api_key: str | None) -> ASGIApp:
    """The streamable-HTTP application of ``server`` (at ``/mcp``), behind ``api_key`` when given."""
    app: ASGIApp = server.streamable_http_app(host=host)
    return app if api_key is None else BearerKey(app, key=api_key)
