"""Where a pipeline keeps its video LLM: loaded at once, on first use, or in a background
thread (:meth:`ModelSlot.preload`) while the CPU stage decodes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videopipe.protocols import VideoLLM

__all__ = ["MODEL_LOAD_THREAD", "ModelSlot", "model_loading"]

#: the name of the thread :meth:`ModelSlot.preload` starts
MODEL_LOAD_THREAD = "videopipe-model-load"


def model_loading() -> bool:
    """True while a :meth:`ModelSlot.preload` thread of this process is still loading."""
    return any(t.name == MODEL_LOAD_THREAD and t.is_alive() for t in threading.enumerate())


class ModelSlot:
    """A model, or the way to load it (``load()``, called at most once at a time)."""

    def __init__(self, load: Callable[[], VideoLLM], model: VideoLLM | None = None) -> None:
        self._load = load
        self._model = model
        self._lock = threading.RLock()
        self._loader: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def loaded(self) -> VideoLLM | None:
        """The model when it is loaded, else None (never waits)."""
        return self._model

    def get(self) -> VideoLLM:
        """The model: loaded on first use; waits for a load :meth:`preload` started and raises
        what it raised."""
        with self._lock:
            if self._model is None:
                loader, self._loader = self._loader, None
                if loader is not None:
                    loader.join()
                    failed, self._error = self._error, None
                    if failed is not None:
                        raise failed
                if self._model is None:
                    self._model = self._load()
            return self._model

    def preload(self) -> None:
        """Start loading in a background thread and return at once (the imports and weights load
        while the video is probed and decoded: decoding runs in C without the interpreter lock).
        Does nothing when the model is loaded or loading."""
        with self._lock:
            if self._model is not None or self._loader is not None:
                return
            self._loader = threading.Thread(
                target=self._load_in_background, name=MODEL_LOAD_THREAD, daemon=True
            )
            self._loader.start()

    def _load_in_background(self) -> None:
        try:
            self._model = self._load()
        except BaseException as e:  # handed to the thread that waits for the model
            self._error = e
