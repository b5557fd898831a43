"""The options of the two commands that serve the pipeline (``serve``, ``mcp``), declared once.

Both listen on an address, read videos only from allowed folders (or public URLs), may require
an API key and keep the KV caches of recent prompts. :func:`server_options` adds these flags to
a command's signature, as :func:`~videopipe.cli.options.pipeline_options` does for the pipeline
flags, and hands the command one :class:`ServerFlags`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from videopipe.cli.flags import F, Flag, with_flags
from videopipe.cli.options import finite_float

__all__ = ["SERVER_FLAGS", "ServerFlags", "server_options"]


def _server(*decls: str, **kwargs: Any) -> Any:
    return typer.Option(*decls, rich_help_panel="Server options", **kwargs)


Host = Annotated[str, _server("--host", help="Address to listen on (0.0.0.0: every interface).")]
Port = Annotated[int, _server("--port", min=1, max=65535, help="Port to listen on.")]
AllowDir = Annotated[
    list[Path],
    _server("--allow-dir", help="A folder whose videos may be asked about (repeatable; default: none)."),
]
AllowRemote = Annotated[
    bool,
    _server(
        "--allow-remote",
        help="Fetch http(s) video URLs from public addresses (never loopback, private or link-local).",
    ),
]
AllowDomain = Annotated[
    list[str],
    _server(
        "--allow-domain",
        help="A host remote fetches may reach, and the names below it (repeatable; default: any "
        "public host). Internal addresses are refused either way.",
    ),
]
ApiKey = Annotated[
    str | None,
    _server(
        "--api-key",
        help="Require 'Authorization: Bearer KEY' on every API call. Visible in the process list: "
        "prefer VIDEOPIPE_API_KEY or --api-key-file.",
    ),
]
ApiKeyFile = Annotated[
    Path | None, _server("--api-key-file", help="Read the API key from the first line of this file.")
]
KvCacheMb = Annotated[
    float,
    _server(
        "--kv-cache-mb",
        callback=finite_float,
        min=0,
        help="Memory (on the model's device) for the KV caches of recent prompts, so that a follow-up "
        "prefills only its new text; 0: off.",
    ),
]

#: the flags of ``serve`` and ``mcp``; ``config_field`` names the :class:`ServerFlags` field
SERVER_FLAGS: tuple[Flag, ...] = (
    Flag("host", Host, "host", default="127.0.0.1"),
    Flag("port", Port, "port", default=8000),
    Flag("allow_dir", AllowDir, "allow_dirs", default=[], to_field=tuple),
    Flag("allow_remote", AllowRemote, "allow_remote", default=False),
    Flag("allow_domain", AllowDomain, "allow_domains", default=[], to_field=tuple),
    Flag("api_key", ApiKey, "api_key"),
    Flag("api_key_file", ApiKeyFile, "api_key_file"),
    Flag("kv_cache_mb", KvCacheMb, "kv_cache_mb", default=512),
)


@dataclass(frozen=True)
class ServerFlags:
    """The server flags of one command line (the API key as given, not yet read)."""

    host: str = "127.0.0.1"
    port: int = 8000
    allow_dirs: tuple[Path, ...] = ()
    allow_remote: bool = False
    allow_domains: tuple[str, ...] = ()
    api_key: str | None = None
    api_key_file: Path | None = None
    kv_cache_mb: float = 512

    @classmethod
    def from_values(cls, values: Mapping[str, Any], flags: Sequence[Flag]) -> ServerFlags:
        return cls(**{f.config_field: f.to_field(values[f.name]) for f in flags})

    @property
    def kv_cache_bytes(self) -> int:
        return int(self.kv_cache_mb * 2**20)


def server_options(command: F) -> F:
    """Give the command the server flags; it receives them as ``server: ServerFlags``."""
    return with_flags("server", SERVER_FLAGS, ServerFlags.from_values)(command)
