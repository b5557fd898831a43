"""One description of a span of a video, shared by ``summarize`` (its chunks) and ``index
--captions`` (its clips): the same model, the same :class:`DescribeRecipe` and the same span's
frames and lines give the same words, so each is generated once and read from the
:class:`~videopipe.summarize.cache.DescriptionCache` by whichever job comes second."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from videopipe.summarize.cache import DescriptionCache
from videopipe.summarize.describe import DESCRIBE_PROMPT, describe_span

if TYPE_CHECKING:
    from videopipe.decode.reader import BaseReader
    from videopipe.models.contract import VideoLLM
    from videopipe.text.timeline import TextLine

__all__ = ["DescribeRecipe", "SpanDescriber", "description_store"]


@dataclass(frozen=True)
class DescribeRecipe:
    """How a span is described: the question, ``frames`` frames spread inside the span with the
    shorter side ``size_px``, at most ``max_new_tokens`` new tokens. Part of the cache key."""

    prompt: str = DESCRIBE_PROMPT
    frames: int = 4
    size_px: int = 224
    max_new_tokens: int = 96

    @property
    def key(self) -> str:
        return f"{self.prompt}|frames={self.frames}|px={self.size_px}|new={self.max_new_tokens}"


def description_store(cache: bool = True, cache_dir: str | Path | None = None) -> DescriptionCache | None:
    """The description cache under ``cache_dir`` (None: the default cache folder); None when
    ``cache`` is off."""
    if not cache:
        return None
    return DescriptionCache(Path(cache_dir) / "descriptions" if cache_dir is not None else None)


class SpanDescriber:
    """Descriptions by ``model`` as ``recipe`` says, cached in ``store`` (None: always made).
    ``made`` and ``reused`` count the generations and the cache reads."""

    def __init__(
        self, model: VideoLLM, recipe: DescribeRecipe | None = None, *, store: DescriptionCache | None = None
    ) -> None:
        self.model = model
        self.recipe = recipe or DescribeRecipe()
        self.store = store
        self.made = 0
        self.reused = 0
        self._fingerprints: dict[str, str] = {}

    def describe(
        self, video: Path, reader: BaseReader, start_s: float, end_s: float, lines: Sequence[TextLine]
    ) -> str:
        """What the model says about [start_s, end_s) of ``video`` (open in ``reader``) from its
        frames and ``lines`` (the span's own)."""
        key = self._key(video, start_s, end_s, lines) if self.store is not None else None
        if key is not None and self.store is not None:
            hit = self.store.load(key)
            if hit is not None:
                self.reused += 1
                return hit
        r = self.recipe
        text = describe_span(
            self.model,
            reader,
            start_s,
            end_s,
            lines,
            prompt=r.prompt,
            frames=r.frames,
            size_px=r.size_px,
            max_new_tokens=r.max_new_tokens,
        )
        self.made += 1
        if key is not None and self.store is not None:
            self.store.save(key, text)
        return text

    def _key(self, video: Path, start_s: float, end_s: float, lines: Sequence[TextLine]) -> str:
        from videopipe.fingerprint import file_fingerprint

        assert self.store is not None
        name = str(video)
        if name not in self._fingerprints:
            self._fingerprints[name] = file_fingerprint(video)
        said = "\n".join(f"{ln.start_s:.2f} {ln.text}" for ln in lines)
        return self.store.key(
            self._fingerprints[name],
            model_id=str(self.model.model_id),
            span=(start_s, end_s),
            recipe=f"{self.recipe.key}|{said}",
        )
