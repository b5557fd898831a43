"""What the route handlers share: one :class:`Served` per application (``app.state.served``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from videopipe.serve.errors import ApiError, from_exception
from videopipe.serve.video_store import VideoStore

if TYPE_CHECKING:
    from videopipe.serve.paths import PathPolicy
    from videopipe.serve.remote import RemoteFetcher
    from videopipe.serve.settings import ServeSettings
    from videopipe.serve.worker import ModelWorker

__all__ = ["Served", "request_error", "served"]


@dataclass
class Served:
    """The server's parts: its settings, the model worker, the path policy, the remote fetcher,
    the index's retriever (built on the first search) and the inline/named videos."""

    settings: ServeSettings
    worker: ModelWorker
    policy: PathPolicy
    fetcher: RemoteFetcher
    retriever: list[Any] = field(default_factory=list)
    store: VideoStore = field(default_factory=VideoStore)

    @property
    def model_name(self) -> str:
        return self.settings.model_name


def served(request: Request) -> Served:
    """The route dependency that hands a handler the server's parts."""
    return request.app.state.served  # type: ignore[no-any-return]


def request_error(request: Request, e: BaseException, *, log_bug: bool = True) -> ApiError:
    """``from_exception(e)`` with the server's paths redacted from its message: the folders
    clients may name are kept, a fetched video's temp file becomes its URL."""
    return from_exception(
        e,
        log_bug=log_bug,
        keep=served(request).settings.allow_dirs,
        aliases=getattr(request.state, "path_aliases", None),
    )
