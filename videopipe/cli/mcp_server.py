"""``videopipe mcp``: videopipe's tools for agents over the Model Context Protocol."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videopipe.cli.options import PipelineFlags, finite_float, pipeline_options

if TYPE_CHECKING:
    import socket

    from mcp.server.mcpserver import MCPServer


@pipeline_options()
def mcp(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (the agent starts this command) or http (streamable HTTP)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (--transport http)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (--transport http)."),
    allow_dir: list[Path] = typer.Option(
        [], "--allow-dir", help="A folder whose videos the tools may read (repeatable; default: none)."
    ),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Fetch http(s) video URLs from public addresses (as serve does)."
    ),
    allow_domain: list[str] = typer.Option(
        [], "--allow-domain", help="A host remote fetches may reach (repeatable; default: any public host)."
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="--transport http: require 'Authorization: Bearer KEY'. Visible in the process list: "
        "prefer VIDEOPIPE_API_KEY or --api-key-file.",
    ),
    api_key_file: Path | None = typer.Option(
        None, "--api-key-file", help="--transport http: read the API key from the first line of this file."
    ),
    kv_cache_mb: float = typer.Option(
        512,
        "--kv-cache-mb",
        callback=finite_float,
        min=0,
        help="Memory for the KV caches of recent prompts (a question about a video asked before "
        "prefills only its new text); 0: off.",
    ),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Serve the tools ask_video, search_videos (over --index), video_info, video_chapters,
    locate_in_video and summarize_video to MCP clients,
    with the same file rules as serve (only videos under --allow-dir; URLs only with
    --allow-remote). The model loads once, before the first call."""
    import sys

    from videopipe.errors import ConfigError, MissingDependencyError
    from videopipe.serve.settings import ServeSettings

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport {transport!r}: use stdio or http")
    try:
        import mcp as _  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            'videopipe mcp needs the MCP SDK: pip install "videopipe[mcp]"'
        ) from None
    from videopipe.serve.mcp_tools import build_mcp
    from videopipe.serve.settings import read_api_key

    if transport == "stdio" and (api_key is not None or api_key_file is not None):
        raise ConfigError("--api-key and --api-key-file apply to --transport http (stdio has no network)")
    key, key_warning = read_api_key(given=api_key, key_file=api_key_file)
    if key_warning is not None:
        print(f"videopipe: warning: {key_warning}", file=sys.stderr)
    settings = ServeSettings(
        config=pipeline.config(),
        allow_dirs=tuple(allow_dir),
        allow_remote=allow_remote,
        allow_domains=tuple(allow_domain),
        host=host,
        api_key=key if transport == "http" else None,
        kv_cache_bytes=int(kv_cache_mb * 2**20),
    )
    server, worker = build_mcp(settings)
    sock = None
    if transport == "http":
        from videopipe.serve.listen import bind_socket

        sock = bind_socket(host, port)  # a busy port or a foreign --host: one line, before the model loads
    worker.start()  # a model that cannot load fails here, as one line (exit code 2)
    if not settings.allow_dirs and not allow_remote:
        print("videopipe: warning: no --allow-dir: no video can be asked about", file=sys.stderr)
    try:
        if sock is None:
            server.run("stdio")
        else:
            _serve_http(server, sock, host=host, port=port, api_key=settings.api_key)
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
