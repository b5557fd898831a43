"""``videopipe mcp``: videopipe's tools for agents over the Model Context Protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from videopipe.cli.options import PipelineFlags, pipeline_options
from videopipe.cli.serve import server_settings, warn_if_no_videos
from videopipe.cli.server_options import ServerFlags, server_options

if TYPE_CHECKING:
    import socket

    from mcp.server.mcpserver import MCPServer


@server_options
@pipeline_options()
def mcp(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (the agent starts this command) or http (streamable HTTP)."
    ),
    *,
    server: ServerFlags,
    pipeline: PipelineFlags,
) -> None:
    """Serve the tools ask_video, search_videos (over --index), video_info, video_chapters,
    locate_in_video and summarize_video to MCP clients,
    with the same file rules as serve (only videos under --allow-dir; URLs only with
    --allow-remote). --host, --port and the API key apply to --transport http. The model loads
    once, before the first call."""
    from videopipe.errors import ConfigError, MissingDependencyError

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport {transport!r}: use stdio or http")
    try:
        import mcp as _  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            'videopipe mcp needs the MCP SDK: pip install "videopipe[mcp]"'
        ) from None
    from videopipe.serve.mcp_tools import build_mcp

    if transport == "stdio" and (server.api_key is not None or server.api_key_file is not None):
        raise ConfigError("--api-key and --api-key-file apply to --transport http (stdio has no network)")
    settings = server_settings(server, pipeline, keyed=transport == "http")
    tools, worker = build_mcp(settings)
    host, port = server.host, server.port
    sock = None
    if transport == "http":
        from videopipe.serve.listen import bind_socket

        sock = bind_socket(host, port)  # a busy port or a foreign --host: one line, before the model loads
    worker.start()  # a model that cannot load fails here, as one line (exit code 2)
    warn_if_no_videos(settings)
    try:
        if sock is None:
            tools.run("stdio")
        else:
            _serve_http(tools, sock, host=host, port=port, api_key=settings.api_key)
    finally:
        worker.close()


def _serve_http(server: MCPServer, sock: socket.socket, *, host: str, port: int, api_key: str | None) -> None:
    """Streamable HTTP at ``/mcp`` on the bound ``sock``, behind ``api_key`` when given."""
    import sys

    import uvicorn

    from videopipe.serve.mcp_http import mcp_http_app

    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        print(
            f"videopipe: warning: MCP over HTTP on {host} without an API key (VIDEOPIPE_API_KEY "
            "or --api-key-file): anyone who can reach it may call the tools",
            file=sys.stderr,
        )
    app = mcp_http_app(server, host=host, api_key=api_key)
    print(f"videopipe: MCP over streamable HTTP at http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
