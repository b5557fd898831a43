"""``videopipe serve``: the OpenAI-compatible video QA server and its web page."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from videopipe.cli.options import PipelineFlags, finite_float, pipeline_options
from videopipe.cli.server_options import ServerFlags, server_options

if TYPE_CHECKING:
    from videopipe.serve.settings import ServeSettings


@server_options
@pipeline_options()
def serve(
    remote_max_mb: float = typer.Option(
        1024, "--remote-max-mb", callback=finite_float, min=0.001, help="Largest remote video, MB."
    ),
    remote_timeout_s: float = typer.Option(
        120, "--remote-timeout-s", callback=finite_float, min=0.1, help="Longest remote fetch, s."
    ),
    remote_max_redirects: int = typer.Option(
        3, "--remote-max-redirects", min=0, max=20, help="Most redirects a remote fetch follows."
    ),
    max_queue: int = typer.Option(
        16,
        "--max-queue",
        min=1,
        help="Requests in the server at once; more are answered 503 with Retry-After.",
    ),
    max_body_kb: int = typer.Option(1024, "--max-body-kb", min=1, help="Largest request body, KB."),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="Another name requests may reach the server by (a reverse proxy's; repeatable; '*': any). "
        "Default: localhost, 127.0.0.1, ::1 and --host.",
    ),
    *,
    server: ServerFlags,
    pipeline: PipelineFlags,
) -> None:
    """Serve video questions over HTTP: OpenAI's /v1/chat/completions with video_url parts,
    /v1/search over --index, thumbnails, and a web page at /. The model loads once; requests
    queue to it while the next ones decode. Only files under --allow-dir are served, and only
    to requests whose Host is this server's (see docs/serve.md, "Safe by default")."""
    import ipaddress

    from videopipe.serve.app import create_app
    from videopipe.serve.listen import bind_socket

    settings = server_settings(
        server,
        pipeline,
        remote_max_bytes=int(remote_max_mb * 1e6),
        remote_timeout_s=remote_timeout_s,
        remote_max_redirects=remote_max_redirects,
        max_queue=max_queue,
        max_body_bytes=max_body_kb * 1024,
        allowed_hosts=tuple(allowed_host),
    )
    from videopipe.decode.workers import set_decode_cores, usable_cores
    from videopipe.serve.worker import reader_workers

    # the decode threads and each reader's own threads share the cores (not threads x cores)
    set_decode_cores(reader_workers(settings.decode_threads, usable_cores()))
    host, port = server.host, server.port
    sock = bind_socket(host, port)  # a busy port or a foreign --host: one line, before the model loads
    app = create_app(settings)
    app.state.worker.start()  # a model that cannot load fails here, as one line (exit code 2)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and settings.api_key is None:
        print(
            f"videopipe: warning: listening on {host} without an API key (VIDEOPIPE_API_KEY or "
            "--api-key-file): anyone who can reach it may ask",
            file=sys.stderr,
        )
    warn_if_no_videos(settings)
    for d in settings.broad_dirs():
        print(
            f"videopipe: warning: --allow-dir {d} holds your home folder: every non-hidden file in it can be "
            "asked about; give the folder of your videos",
            file=sys.stderr,
        )
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    shown = f"[{host}]" if ":" in host else host
    print(f"videopipe: serving {settings.model_name} on http://{shown}:{port}/", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def server_settings(
    server: ServerFlags, pipeline: PipelineFlags, *, keyed: bool = True, **more: Any
) -> ServeSettings:
    """The settings of a serving command (``serve``, ``mcp``): the flags both take, the API key
    read once (its warning printed; ``keyed=False``: read, then not required), and ``more``."""
    from videopipe.serve.settings import ServeSettings, read_api_key

    key, key_warning = read_api_key(given=server.api_key, key_file=server.api_key_file)
    if key_warning is not None:
        print(f"videopipe: warning: {key_warning}", file=sys.stderr)
    return ServeSettings(
        config=pipeline.config(),
        allow_dirs=server.allow_dirs,
        allow_remote=server.allow_remote,
        allow_domains=server.allow_domains,
        host=server.host,
        api_key=key if keyed else None,
        kv_cache_bytes=server.kv_cache_bytes,
        **more,
    )


def warn_if_no_videos(settings: ServeSettings) -> None:
    """A server that may read no file and fetch no URL can answer nothing: say so."""
    if not settings.allow_dirs and not settings.allow_remote:
        print("videopipe: warning: no --allow-dir: no video can be asked about", file=sys.stderr)
