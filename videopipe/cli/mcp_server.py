"""``videopipe mcp``: videopipe's tools for agents over the Model Context Protocol."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.options import PipelineFlags, pipeline_options


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
    *,
    pipeline: PipelineFlags,
) -> None:
    """Serve the tools ask_video, search_videos (over --index), video_info, video_chapters and
    locate_in_video to MCP clients,
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

    settings = ServeSettings(
        config=pipeline.config(),
        allow_dirs=tuple(allow_dir),
        allow_remote=allow_remote,
        allow_domains=tuple(allow_domain),
        host=host,
    )
    server, worker = build_mcp(settings)
    worker.start()  # a model that cannot load fails here, as one line (exit code 2)
    if not settings.allow_dirs and not allow_remote:
        print("videopipe: warning: no --allow-dir: no video can be asked about", file=sys.stderr)
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            if host not in ("127.0.0.1", "localhost", "::1"):
                print(
                    f"videopipe: warning: MCP over HTTP on {host} has no authentication: anyone who can "
                    "reach it may call the tools",
                    file=sys.stderr,
                )
            print(
                f"videopipe: MCP over streamable HTTP at http://{host}:{port}/mcp",
                file=sys.stderr,
                flush=True,
            )
            server.run("streamable-http", host=host, port=port)
    finally:
        worker.close()
