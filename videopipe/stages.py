"""Building and checking the pipeline's stages, and decoding what a sampler selected.

A stage given by name is created from its registry; a stage given as an object must follow its
protocol (``videopipe.protocols``), checked with ``isinstance``, and a refusal names the members
it lacks. The checks that need the configuration (decoder name, retrieval) run here before
anything is decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, InputError
from videopipe.pipeline_records import Restricted
from videopipe.protocols import Compressor, Embedder, Retriever, Sampler, VideoLLM, VideoReader, stage_error

if TYPE_CHECKING:
    from videopipe.model_records import ModelFacts
    from videopipe.text.timeline import Timeline
    from videopipe.types import Budget, Frames, Selection

__all__ = [
    "CacheWarning",
    "RetrievalWarning",
    "check_backend",
    "check_facts",
    "check_retrieval",
    "checked_model",
    "config_query_dependent",
    "decode_selection",
    "make_compressor",
    "make_embedder",
    "make_sampler",
    "make_retriever",
    "query_dependent",
    "restrict",
]


StageT = TypeVar("StageT")


class CacheWarning(UserWarning):
    """The token cache cannot be written: the pipeline goes on without it."""


class RetrievalWarning(UserWarning):
    """``--retrieve`` found nothing to restrict sampling to: the whole video is sampled."""


def make_sampler(spec: str | Sampler) -> Sampler:
    """The sampler ``spec`` names (``SAMPLERS``), or ``spec`` itself when it follows
    :class:`~videopipe.protocols.Sampler`."""
    if not isinstance(spec, str):
        return _following(
            spec,
            Sampler,
            "sampler",
            "a sampler is a registered name or an object following videopipe.protocols.Sampler "
            "(subclass videopipe.samplers._base.BaseSampler, or set name and uses_query)",
        )
    from videopipe.registry import SAMPLERS

    sampler: Sampler = SAMPLERS.create(spec)
    return sampler


def make_compressor(spec: str | Compressor) -> Compressor:
    """The compressor chain ``spec`` names (``"temporal_merge+progressive"``), or ``spec``
    itself when it follows :class:`~videopipe.protocols.Compressor`."""
    if not isinstance(spec, str):
        return _following(
            spec,
            Compressor,
            "compressor",
            "a compressor is a registered name or an object following videopipe.protocols.Compressor "
            "(subclass it to get the defaults of merges and default_budget)",
        )
    from videopipe.compressors import build

    compressor: Compressor = build(spec)
    return compressor


def make_embedder(spec: str | Embedder) -> Embedder:
    """The embedder ``spec`` names (``EMBEDDERS``), or ``spec`` itself when it follows
    :class:`~videopipe.protocols.Embedder`."""
    if not isinstance(spec, str):
        return _following(
            spec,
            Embedder,
            "embedder",
            "an embedder is a registered name or an object following videopipe.protocols.Embedder "
            "(subclass it to get the defaults of modality and model_id)",
        )
    from videopipe.registry import EMBEDDERS

    embedder: Embedder = EMBEDDERS.create(spec)
    return embedder


def make_retriever(retriever: Retriever | None) -> Retriever | None:
    """``retriever`` when it follows :class:`~videopipe.protocols.Retriever` (or None)."""
    if retriever is None:
        return None
    return _following(
        retriever,
        Retriever,
        "retriever",
        "a retriever is an object following videopipe.protocols.Retriever "
        "(videopipe.retrieval.search.Retriever over an index folder is one)",
    )


def _following(stage: object, protocol: type[StageT], kind: str, fix: str) -> StageT:
    """``stage`` when it follows ``protocol`` (``isinstance``), else a ConfigError naming the
    members it lacks and ``fix``."""
    if not isinstance(stage, protocol):
        raise ConfigError(stage_error(kind, stage, protocol, fix))
    return stage


def restrict(
    reader: VideoReader,
    path: Path,
    question: str | None,
    *,
    k: int,
    retriever: Retriever | None,
    embedder: str | Embedder,
    index_dir: str | None,
    timeline: Timeline | None = None,
) -> Restricted:
    """The retrieve stage: a view of ``reader`` over the top-``k`` clips of this video for the
    question (plus context), from ``retriever``, else from the index when ``index_dir`` holds
    the video, else embedded now with ``embedder``. When retrieval finds nothing (e.g.
    subtitles-only embedder and no subtitles) the sampler sees the whole video."""
    import warnings

    from videopipe.spans import restrict_to_hits

    if not question:
        raise InputError(f"{path}: retrieval needs a question")
    if retriever is not None:
        hits = retriever.search(question, k, video=path)
    else:
        from videopipe.retrieval.search import retrieve_clips

        hits = retrieve_clips(path, question, k=k, index_dir=index_dir, embedder=embedder, timeline=timeline)
    if not hits:
        warnings.warn(
            f"{path}: retrieval found no clips for the question (no text or frames to match in "
            f"the video with this embedder); sampling the whole video instead of the top {k}",
            RetrievalWarning,
            stacklevel=3,
        )
        return Restricted(view=reader)
    view, scores = restrict_to_hits(reader, hits)
    return Restricted(view=view, spans=view, span_scores=scores)


def checked_model(model: object) -> VideoLLM:
    if not isinstance(model, VideoLLM):
        raise ConfigError(
            f"model {type(model).__name__} is not a videopipe VideoLLM: it needs model_id, token_px, "
            "min_frames, mixed_resolution, can_sample, progress, encode, generate, generate_stream, encode_clips, "
            "decode_size, text_embeddings and facts; "
            "subclass videopipe.models.contract.VideoLLM to get the defaults of the optional ones"
        )
    return model


def check_facts(got: ModelFacts, expected: ModelFacts, *, what: str) -> None:
    if got != expected:
        raise ConfigError(
            f"{what}: model geometry {got} differs from this pipeline's {expected}; build the "
            "decoding and the answering pipelines from the same config (model, sampler, budget)"
        )


def check_backend(name: str) -> None:
    """An unknown ``decode_backend`` fails here, also when every video is in the token cache
    (no decoder is opened then)."""
    if name != "auto":
        from videopipe.registry import DECODERS

        DECODERS.get(name)  # UnknownPluginError listing the valid names


def check_retrieval(cfg: PipelineConfig, *, has_text: bool, embedder: str | Embedder | None) -> None:
    """An explicit ``retrieve`` that cannot work is an error before anything is decoded: an
    ``index_dir`` that holds no index, or a text embedder with ``text="none"`` (it would have
    nothing to embed, and the whole video would be sampled without a word)."""
    from videopipe.retrieval.store import CONFIG_NAME

    if cfg.index_dir is not None:
        index = Path(cfg.index_dir).expanduser()
        if not (index / CONFIG_NAME).is_file():
            raise ConfigError(
                f"--index {index} holds no videopipe index ({CONFIG_NAME} not found); build it with "
                f"`videopipe index VIDEOS --index {index}`, or leave out --index to embed the video now"
            )
        return  # the index's own embedder is used for the videos it holds
    if has_text or embedder_modality(embedder if embedder is not None else "text") != "text":
        return
    raise ConfigError(
        "--retrieve with a text embedder needs the video's text, and --text none gives it none; "
        "pass --text auto (or subtitles, speech, screen), or an image embedder (--embedder clip)"
    )


def embedder_modality(embedder: str | Embedder) -> str | None:
    """``"text"`` or ``"image"`` for a registered name or an embedder object; None when not
    known without importing it (a ``module:attr`` path)."""
    if not isinstance(embedder, str):
        return str(embedder.modality)
    if ":" in embedder:
        return None
    from videopipe.registry import EMBEDDERS

    return str(EMBEDDERS.get(embedder).modality)


def query_dependent(sampler: Sampler, retrieve_k: int | None) -> bool:
    """Selections that depend on the question cannot be shared across questions."""
    return bool(retrieve_k) or bool(sampler.uses_query)


def config_query_dependent(config: PipelineConfig) -> bool:
    """:meth:`Pipeline.query_dependent` for the pipeline ``config`` builds, without building
    it (its sampler is named by the config)."""
    from videopipe.registry import SAMPLERS

    return bool(config.retrieve) or bool(SAMPLERS.get(config.sampler).uses_query)


def decode_selection(
    reader: VideoReader,
    selection: Selection,
    budget: Budget,
    *,
    mixed_resolution: bool = False,
    size_of: Callable[[int, int, int], tuple[int, int]] | None = None,
) -> list[Frames]:
    """Decode every selected clip at its own resolution (key-clip sampling trades resolution
    for length). Returns one ``Frames`` per run of consecutive clips at one resolution (one
    video for the model), in time order, frames tagged with their clip id.

    ``size_of(height, width, num_frames)`` maps the size chosen for a run of ``num_frames``
    frames to the size the model encodes them at (``VideoLLM.decode_size``), so the decoder's
    resize is the only one; None: decode at the chosen size."""
    import numpy as np

    info = reader.info
    default = budget.frame_size(info.height, info.width)
    sizes = {clip.size or default for clip in selection.clips}
    if len(sizes) > 1 and not mixed_resolution:
        # this model takes one frame size per video: use the smallest clip size for all clips
        # (keeps the token budget; longer clips lose their extra sharpness)
        sizes = {min(sizes, key=lambda hw: hw[0] * hw[1])}
    only = next(iter(sizes)) if len(sizes) == 1 else None
    runs: list[tuple[tuple[int, int], list[int]]] = []
    for cid, clip in enumerate(selection.clips):
        size = only or clip.size or default
        if runs and runs[-1][0] == size:
            runs[-1][1].append(cid)
        else:
            runs.append((size, [cid]))
    groups: list[Frames] = []
    for size, cids in runs:
        # one request per run: the decoder sees every frame at once (it orders, shares and
        # parallelises the work) and no frames are copied to join clips
        counts = [len(selection.clips[c].indices) for c in cids]
        target = size_of(size[0], size[1], sum(counts)) if size_of is not None else size
        f = reader.frames_at([i for c in cids for i in selection.clips[c].indices], size=target)
        groups.append(f.replace(clip_ids=np.repeat(np.asarray(cids, dtype=np.int64), counts)))
    return groups
