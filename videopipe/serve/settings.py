"""What ``videopipe serve`` is started with: one frozen, validated value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError

__all__ = ["ServeSettings", "read_api_key"]


@dataclass(frozen=True)
class ServeSettings:
    """config:          the pipeline options (``ask``'s); per-request overrides start from it
    allow_dirs:         folders whose files requests may name (resolved; none: no file at all;
                        ``/`` is refused)
    allow_remote:       fetch http(s) video URLs (into a temp dir, within the two limits below)
    remote_max_bytes:   largest remote video fetched
    remote_timeout_s:   longest a remote fetch may take (DNS, redirects and download together)
    remote_max_redirects: most redirects a remote fetch follows (each checked like the URL)
    allow_domains:      hosts remote fetches may reach (and names below them); empty: any public host
    remote_trusted_for_tests: ``ADDRESS:PORT`` pairs a remote fetch may reach although not public
                        (a local test server on 127.0.0.1); no command-line option sets it
    api_key:            when set, every API route needs ``Authorization: Bearer KEY``
    max_queue:          requests in the server at once (decoding, waiting, answering); more get 503
    max_body_bytes:     largest request body
    decode_threads:     CPU-stage threads (decoding waiting requests while the model works)
    host:               the address the server listens on (the ``Host`` check accepts it)
    allowed_hosts:      more names a request's ``Host`` may carry (reverse proxies; ``*``: any);
                        see ``serve/hosts.py``
    kv_cache_bytes:     budget of the language model's KV caches kept for follow-ups
                        (``--kv-cache-mb``; 0: every prompt is prefilled whole)

    ``config.index_dir``, when set, must be an index folder (checked here, before a model loads).
    """

    config: PipelineConfig = field(default_factory=PipelineConfig)
    allow_dirs: tuple[Path, ...] = ()
    allow_remote: bool = False
    remote_max_bytes: int = 1 << 30
    remote_timeout_s: float = 120.0
    remote_max_redirects: int = 3
    allow_domains: tuple[str, ...] = ()
    remote_trusted_for_tests: tuple[str, ...] = ()
    api_key: str | None = None
    max_queue: int = 16
    max_body_bytes: int = 1 << 20
    decode_threads: int = 2
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    kv_cache_bytes: int = 512 * 2**20

    def __post_init__(self) -> None:
        dirs = []
        for d in self.allow_dirs:
            p = Path(d).expanduser()
            if not p.is_dir():
                raise ConfigError(f"--allow-dir {d}: not a directory; give an existing folder of videos")
            real = p.resolve()
            if real == Path(real.anchor):
                raise ConfigError(
                    f"--allow-dir {d}: that is {real}, which allows every file on this machine; "
                    "give the folder that holds your videos"
                )
            dirs.append(real)
        object.__setattr__(self, "allow_dirs", tuple(dirs))
        from videopipe.serve.remote import allowed_domains

        object.__setattr__(self, "allow_domains", allowed_domains(self.allow_domains))
        if not 0 <= int(self.remote_max_redirects) <= 20:
            raise ConfigError(f"--remote-max-redirects must be 0..20, got {self.remote_max_redirects}")
        for name in ("max_queue", "max_body_bytes", "decode_threads", "remote_max_bytes"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.kv_cache_bytes) < 0:
            raise ConfigError(f"--kv-cache-mb must be >= 0 (0: off), got {self.kv_cache_bytes / 2**20:g}")
        if not self.remote_timeout_s > 0:
            raise ConfigError(f"remote_timeout_s must be > 0, got {self.remote_timeout_s}")
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("--api-key is empty; give a secret or leave the option out")
        for name in self.allowed_hosts:
            if not name.strip() or any(c in name for c in "/@ "):
                raise ConfigError(
                    f"--allowed-host {name!r}: give a host name (like videos.example.com) or '*'"
                )
        if self.config.index_dir is not None:
            from videopipe.retrieval.resolve import check_recorded_embedder
            from videopipe.retrieval.store import IndexStore

            store = IndexStore(self.config.index_dir)
            recorded = store.config()  # a missing or damaged index: one line now
            if self.config.embedder is None:  # the server creates the recorded one: registered only
                check_recorded_embedder(recorded, store.config_path)

    def broad_dirs(self) -> list[Path]:
        """The allowed folders that hold the home folder (it, or one above it)."""
        home = Path.home().resolve()
        return [d for d in self.allow_dirs if home == d or home.is_relative_to(d)]

    @property
    def model_name(self) -> str:
        """The id ``/v1/models`` lists and requests name."""
        return str(self.config.model)


def read_api_key(*, given: str | None, key_file: Path | None) -> tuple[str | None, str | None]:
    """The server's API key and a warning to print (or None): ``--api-key-file`` (its first
    line), else ``$VIDEOPIPE_API_KEY``, else ``--api-key`` (which every user of the machine can
    read in the process list: the warning says so)."""
    from videopipe.config import env_api_key

    if given is not None and key_file is not None:
        raise ConfigError("give the API key once: --api-key-file or --api-key, not both")
    if key_file is not None:
        try:
            lines = Path(key_file).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
            raise ConfigError(f"--api-key-file {key_file}: cannot be read ({why})") from None
        key = lines[0].strip() if lines else ""
        if not key:
            raise ConfigError(f"--api-key-file {key_file}: the file is empty; put the key on its first line")
        return key, None
    if given is not None:
        return given, (
            "--api-key on the command line is visible to every user in the process list (ps); "
            "use VIDEOPIPE_API_KEY or --api-key-file"
        )
    return env_api_key(), None
