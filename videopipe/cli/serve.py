"""``videopipe serve``: the OpenAI-compatible video QA server and its web page."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.options import PipelineFlags, finite_float, pipeline_options


@pipeline_options()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    allow_dir: list[Path] = typer.Option(
        [], "--allow-dir", help="A folder whose videos requests may name (repeatable; default: none)."
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="Require 'Authorization: Bearer KEY' on every /v1 route. Visible in the process list: "
        "prefer VIDEOPIPE_API_KEY or --api-key-file.",
    ),
    api_key_file: Path | None = typer.Option(
        None, "--api-key-file", help="Read the API key from the first line of this file."
    ),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Fetch http(s) video URLs from public addresses (never loopback, private or link-local; "
        "within --remote-max-mb, --remote-timeout-s and --remote-max-redirects).",
    ),
    remote_max_mb: float = typer.Option(
        1024, "--remote-max-mb", callback=finite_float, min=0.001, help="Largest remote video, MB."
    ),
    remote_timeout_s: float = typer.Option(
        120, "--remote-timeout-s", callback=finite_float, min=0.1, help="Longest remote fetch, s."
    ),
    remote_max_redirects: int = typer.Option(
        3, "--remote-max-redirects", min=0, max=20, help="Most redirects a remote fetch follows."
    ),
    allow_domain: list[str] = typer.Option(
        [],
        "--allow-domain",
        help="A host remote fetches may reach, and the names below it (repeatable; default: any "
        "public host). Internal addresses are refused either way.",
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
    kv_cache_mb: float = typer.Option(
        512,
        "--kv-cache-mb",
        callback=finite_float,
        min=0,
        help="Memory (on the model's device) for the KV caches of recent prompts, so that a follow-up "
        "prefills only its new text; 0: off.",
    ),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Serve video questions over HTTP: OpenAI's /v1/chat/completions with video_url parts,
    /v1/search over --index, thumbnails, and a web page at /. The model loads once; requests
    queue to it while the next ones decode. Only files under --allow-dir are served, and only
    to requests whose Host is this server's (see docs/serve.md, "Safe by default")."""
    import ipaddress
    import sys

    from videopipe.serve.app import create_app
    from videopipe.serve.listen import bind_socket
    from videopipe.serve.settings import ServeSettings, read_api_key

    api_key, key_warning = read_api_key(given=api_key, key_file=api_key_file)
    if key_warning is not None:
        print(f"videopipe: warning: {key_warning}", file=sys.stderr)
    settings = ServeSettings(
        config=pipeline.config(),
        allow_dirs=tuple(allow_dir),
        allow_remote=allow_remote,
        remote_max_bytes=int(remote_max_mb * 1e6),
        remote_timeout_s=remote_timeout_s,
        remote_max_redirects=remote_max_redirects,
        allow_domains=tuple(allow_domain),
        api_key=api_key,
        max_queue=max_queue,
        max_body_bytes=max_body_kb * 1024,
        host=host,
        allowed_hosts=tuple(allowed_host),
        kv_cache_bytes=int(kv_cache_mb * 2**20),
    )
    from videopipe.decode.workers import set_decode_cores, usable_cores
    from videopipe.serve.worker import reader_workers

    # the decode threads and each reader's own threads share the cores (not threads x cores)
    set_decode_cores(reader_workers(settings.decode_threads, usable_cores()))
    sock = bind_socket(host, port)  # a busy port or a foreign --host: one line, before the model loads
    app = create_app(settings)
    app.state.worker.start()  # a model that cannot load fails here, as one line (exit code 2)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and api_key is None:
        print(
            f"videopipe: warning: listening on {host} without an API key (VIDEOPIPE_API_KEY or "
            "--api-key-file): anyone who can reach it may ask",
            file=sys.stderr,
        )
    if not settings.allow_dirs and not allow_remote:
        print("videopipe: warning: no --allow-dir: no video can be asked about", file=sys.stderr)
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
