"""The pipeline: decode -> sample -> encode -> compress -> (retrieve) -> generate.

This is the one place that knows the order of the stages. Each stage is a plugin chosen by
name (see ``videopipe list``) or passed in as an object.

    from videopipe.pipeline import Pipeline
    pipe = Pipeline(model="Qwen/Qwen2.5-VL-3B-Instruct", sampler="keyframe", compressor="progressive")
    answer = pipe.ask("talk.mp4", "When does the speaker show the chart?")
    print(answer.text, [(h.start_s, h.end_s) for h in answer.evidence])
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, InputError
from videopipe.protocols import VideoLLM
from videopipe.types import Answer, Budget, Frames, Hit, Selection, Stats, VisualTokens


@dataclass
class Prepared:
    """A video after the CPU/GPU-heavy stages, ready for questions: the selected frames'
    visual tokens (uncompressed) and what it cost. Produced by :meth:`Pipeline.prepare`."""

    video: str
    tokens: VisualTokens
    selection: Selection
    frames_decoded: int
    seconds: dict[str, float] = field(default_factory=dict)
    cached: bool = False


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


class Pipeline:
    """Ties the stages together. Construct once (the model loads here), ask many questions.

    model:       a hub id / local path of a supported video LLM, or an adapter object
                 (anything with ``encode``/``generate``, see ``videopipe.protocols.VideoLLM``)
    sampler:     sampler name (``videopipe list``) or a sampler object
    compressor:  compressor spec (``"none"``, ``"progressive"``, ``"temporal_merge+progressive"``)
                 or a compressor object
    budget:      frames / visual tokens the model may see; default from ``config``
    retriever:   optional ``videopipe.retrieval`` retriever; with ``retrieve_k`` the sampler only
                 sees the top-k clips for the question (plus context)
    embedder:    embedder name or object for query-aware samplers (``query``, ``keyclip``)
    """

    def __init__(
        self,
        model: str | VideoLLM | None = None,
        *,
        sampler: Any = None,
        compressor: Any = None,
        budget: Budget | None = None,
        retriever: Any = None,
        retrieve_k: int | None = None,
        embedder: Any = None,
        config: PipelineConfig | None = None,
    ) -> None:
        cfg = config or PipelineConfig()
        if isinstance(model, str):
            cfg = cfg.with_overrides(model=model)
        self.config = cfg
        self.model: VideoLLM = (
            model if (model is not None and not isinstance(model, str)) else _load_model(cfg)
        )
        self.sampler = _make_sampler(sampler if sampler is not None else cfg.sampler)
        self.sampler_name = (
            sampler if isinstance(sampler, str) else getattr(self.sampler, "name", cfg.sampler)
        )
        comp = compressor if compressor is not None else cfg.compressor
        self.compressor = _make_compressor(comp)
        self.compressor_name = comp if isinstance(comp, str) else getattr(comp, "name", type(comp).__name__)
        self.budget = budget or Budget(
            num_frames=cfg.num_frames,
            max_tokens=None,
            size_px=cfg.size_px,
            token_px=int(getattr(self.model, "token_px", 28)),
            min_frames=int(getattr(self.model, "min_frames", 1)),
        )
        self.max_visual_tokens = cfg.max_visual_tokens
        emb = embedder if embedder is not None else cfg.embedder
        self.embedder = _make_embedder(emb) if isinstance(emb, str) else emb
        self.retriever = retriever
        self.retrieve_k = retrieve_k if retrieve_k is not None else cfg.retrieve

    @classmethod
    def from_config(cls, config: PipelineConfig, **kwargs: Any) -> Pipeline:
        return cls(config=config, **kwargs)

    # ------------------------------------------------------------------------------------
    def prepare(self, video: str | Path, question: str | None = None) -> Prepared:
        """Decode, sample and encode ``video`` (cached on disk when enabled).

        ``question`` is only used by query-aware samplers and retrieval."""
        from videopipe.decode import open_video
        from videopipe.decode.probe import check_path

        timer = _Timer()
        path = check_path(video)  # a clear error for a missing/empty path before the cache reads it
        cache = self._token_cache()
        key = None
        if cache is not None and not _query_dependent(self.sampler, self.retrieve_k):
            key = cache.key(path, sampler=self.sampler_name, budget=self.budget, model=self._model_id())
            hit = cache.load(key)
            if hit is not None:
                tokens, selection = hit
                return Prepared(str(path), tokens, selection, 0, {"cache": 0.0}, cached=True)
        with timer.stage("decode"), open_video(path, backend=self.config.decode_backend) as reader:
            view, span_scores = reader, None
            if self.retrieve_k:
                with timer.stage("retrieve"):
                    view, span_scores = self._restrict(reader, path, question)
            with timer.stage("sample"):
                selection = self.sampler(view, self.budget, query=question, features=self.embedder)
                if span_scores is not None:
                    selection = view.to_real(selection, span_scores)
            if selection.num_frames < 1:
                raise InputError(f"{path}: the sampler selected no frames")
            mixed = _takes_clip_list(self.model) or bool(getattr(self.model, "mixed_resolution", False))
            groups = _decode_selection(reader, selection, self.budget, mixed_resolution=mixed)
            duration_s = reader.info.duration_s
        # decode time excludes sampling (which decodes its own probes)
        timer.seconds["decode"] -= timer.seconds.get("sample", 0.0) + timer.seconds.get("retrieve", 0.0)
        with timer.stage("encode"):
            tokens = _encode(self.model, groups, duration_s)
        decoded = selection.frames_decoded + sum(len(g) for g in groups)
        if key is not None and cache is not None:
            cache.save(key, tokens, selection)
        return Prepared(str(path), tokens, selection, decoded, timer.seconds)

    def answer(self, prepared: Prepared, question: str, *, max_new_tokens: int | None = None) -> Answer:
        """Compress the prepared tokens for ``question`` and generate the answer."""
        import torch

        question = check_question(question, prepared.video)
        timer = _Timer()
        timer.seconds.update(prepared.seconds)
        tokens = prepared.tokens
        # compressor "none" means "send every token": the visual-token budget does not apply
        limit = None if self.compressor_name == "none" else self.max_visual_tokens
        with timer.stage("compress"):
            q = _question_embeddings(self.model, question)
            query = None if q is None else torch.nn.functional.normalize(q.mean(0), dim=0).to(tokens.device)
            compressed = self.compressor(tokens, limit or len(tokens), query_embedding=query)
        if limit is not None and len(compressed) > limit:
            raise ConfigError(
                f"compressor {self.compressor_name!r} returned {len(compressed)} tokens for a budget of "
                f"{limit}; choose a compressor (e.g. 'pool' or 'temporal_merge') that honours "
                "--max-visual-tokens"
            )
        with timer.stage("generate"):
            text = self.model.generate(
                compressed, question, max_new_tokens=max_new_tokens or self.config.max_new_tokens
            )
        with timer.stage("evidence"):
            relevance = _token_relevance(compressed, q)
            evidence = _evidence(prepared.video, prepared.selection, compressed, relevance, tokens)
        stats = Stats(
            frames_decoded=prepared.frames_decoded,
            frames_selected=prepared.selection.num_frames,
            tokens_before=len(tokens),
            tokens_after=len(compressed),
            seconds={k: round(v, 4) for k, v in timer.seconds.items()},
            peak_memory_mb=_peak_memory_mb(),
            cached=prepared.cached,
        )
        return Answer(text=text, evidence=evidence, stats=stats, video=prepared.video, question=question)

    def ask(self, video: str | Path, question: str, *, max_new_tokens: int | None = None) -> Answer:
        """Answer ``question`` about ``video``, with evidence timestamps and stats."""
        question = check_question(question, str(video))
        prepared = self.prepare(video, question)
        return self.answer(prepared, question, max_new_tokens=max_new_tokens)

    # ------------------------------------------------------------------------------------
    def _model_id(self) -> str:
        return str(getattr(self.model, "model_id", type(self.model).__name__))

    def _token_cache(self) -> Any:
        if not self.config.cache_tokens:
            return None
        from videopipe.cache import TokenCache

        return TokenCache(self.config.resolved_cache_dir() / "tokens")

    def _restrict(self, reader: Any, path: Path, question: str | None) -> tuple[Any, list[float] | None]:
        """A view of ``reader`` over the top-k clips of this video for the question (plus
        context), from the index when ``index_dir`` holds the video, else embedded now. When
        retrieval finds nothing (e.g. subtitles-only embedder and no subtitles) the sampler
        sees the whole video."""
        from videopipe.spans import restrict_to_hits

        if not question:
            raise InputError(f"{path}: retrieval needs a question")
        k = int(self.retrieve_k or 0)
        if self.retriever is not None:
            hits = self.retriever.search(question, k, video=path)
        else:
            from videopipe.retrieval.search import retrieve_clips

            emb = self.embedder if self.embedder is not None else (self.config.embedder or "text")
            hits = retrieve_clips(path, question, k=k, index_dir=self.config.index_dir, embedder=emb)
        if not hits:
            return reader, None
        return restrict_to_hits(reader, hits)


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def check_question(question: str, video: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"empty question for {video}: pass a non-empty question text")
    return question.strip()


def _load_model(cfg: PipelineConfig) -> VideoLLM:
    if cfg.model == "fake" or cfg.model.startswith("fake:"):
        # the scripted colour-reading stand-in (tests, demos, plumbing benchmarks)
        from videopipe.testing.fake_model import FakeVideoLLM

        style = cfg.model.partition(":")[2] or "letter"
        return FakeVideoLLM(answer_style=style)
    from videopipe.models import load_model

    return load_model(cfg.model, device=cfg.device, dtype=cfg.dtype)


def _make_sampler(spec: Any) -> Any:
    if not isinstance(spec, str):
        return spec
    from videopipe.registry import SAMPLERS

    return SAMPLERS.create(spec)


def _make_compressor(spec: Any) -> Any:
    if not isinstance(spec, str):
        return spec
    from videopipe.compressors import build

    return build(spec)


def _make_embedder(name: str) -> Any:
    from videopipe.registry import EMBEDDERS

    return EMBEDDERS.create(name)


def _query_dependent(sampler: Any, retrieve_k: int | None) -> bool:
    """Selections that depend on the question cannot be shared across questions."""
    uses_query = getattr(sampler, "uses_query", None)
    if uses_query is None:
        uses_query = getattr(sampler, "name", "") in ("keyclip", "query")
    return bool(retrieve_k) or bool(uses_query)


def _decode_selection(
    reader: Any, selection: Selection, budget: Budget, *, mixed_resolution: bool = False
) -> list[Frames]:
    """Decode every selected clip at its own resolution (key-clip sampling trades resolution
    for length). Returns one ``Frames`` per resolution, in time order, frames tagged with
    their clip id."""
    import numpy as np

    info = reader.info
    default = budget.frame_size(info.height, info.width)
    sizes = {clip.size or default for clip in selection.clips}
    if len(sizes) > 1 and not mixed_resolution:
        # this model takes one frame size per video: use the smallest clip size for all clips
        # (keeps the token budget; longer clips lose their extra sharpness)
        sizes = {min(sizes, key=lambda hw: hw[0] * hw[1])}
    only = next(iter(sizes)) if len(sizes) == 1 else None
    groups: list[Frames] = []
    for cid, clip in enumerate(selection.clips):
        size = only or clip.size or default
        f = reader.frames_at(list(clip.indices), size=size)
        f = f.replace(clip_ids=np.full(len(f), cid, dtype=np.int64))
        if groups and (groups[-1].height, groups[-1].width) == (f.height, f.width):
            groups[-1] = Frames.concat([groups[-1], f])
        else:
            groups.append(f)
    return groups


def _takes_clip_list(model: Any) -> bool:
    """videopipe's transformers adapters encode a list of clips (of different sizes) in one
    call; other VideoLLM objects get one ``encode`` call per clip size."""
    try:
        from videopipe.models.base import VideoLLM as _Adapter
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, _Adapter)


def _encode(model: VideoLLM, groups: list[Frames], duration_s: float) -> VisualTokens:
    if _takes_clip_list(model):
        return model.encode(groups if len(groups) > 1 else groups[0], duration_s=duration_s)  # type: ignore[call-arg]
    parts = [model.encode(g) for g in groups]
    return parts[0] if len(parts) == 1 else VisualTokens.concat(parts)


def _question_embeddings(model: Any, question: str) -> Any:
    """The model's own input embeddings of the question's tokens [L, D] (the space the
    projector maps visual tokens into), or None when the adapter cannot embed text."""
    embed = getattr(model, "text_embeddings", None)
    if embed is None:
        return None
    q = embed(question)
    return q if q is not None and len(q) else None


def _token_relevance(tokens: VisualTokens, q: Any) -> Any:
    """Per-token relevance to the question: a visual token's best cosine similarity to any of
    the question's token embeddings. None without question embeddings."""
    if q is None or len(tokens) == 0:
        return None
    import torch

    v = torch.nn.functional.normalize(tokens.features.float(), dim=-1)
    qn = torch.nn.functional.normalize(q.float().to(v.device), dim=-1)
    return (v @ qn.T).max(dim=1).values.cpu()


def _evidence(
    video: str,
    selection: Selection,
    tokens: VisualTokens,
    relevance: Any = None,
    original: VisualTokens | None = None,
) -> tuple[Hit, ...]:
    """The clips the answer was conditioned on, most relevant first.

    A clip's score is the sampler's relevance when it gave one (query-aware samplers,
    retrieval); otherwise the best question relevance of the clip's kept tokens (see
    :func:`_token_relevance`); otherwise the share of the kept visual tokens (weighted by the
    original tokens they stand for) that came from the clip."""
    import numpy as np
    import torch

    frame_idx = tokens.frame_idx.cpu()
    kept_frames = set(frame_idx.tolist())
    # A token stands for its frame and the selected frames after it up to the next frame that
    # has tokens of its own (Qwen encodes 2 frames per temporal patch under the first one).
    token_frames = np.unique((original if original is not None else tokens).frame_idx.cpu().numpy())

    def represented_by(i: int) -> int:
        k = int(np.searchsorted(token_frames, i, side="right")) - 1
        return int(token_frames[max(k, 0)]) if len(token_frames) else i

    mass: dict[int, float] = {}
    best: dict[int, float] = {}
    if len(tokens):
        f, inv = torch.unique(frame_idx, return_inverse=True)
        m = torch.zeros(len(f), dtype=torch.float64).index_add_(0, inv, tokens.size.cpu())
        mass = dict(zip(f.tolist(), (m / m.sum()).tolist()))
        if relevance is not None:
            r = torch.full((len(f),), -1.0, dtype=torch.float32).scatter_reduce(
                0, inv, relevance.float(), "amax"
            )
            best = dict(zip(f.tolist(), r.tolist()))
    hits = []
    for clip in selection.clips:
        reps = sorted({represented_by(i) for i in clip.indices} & kept_frames)
        if not reps:
            continue
        if clip.score is not None:
            score = float(clip.score)
        elif best:
            score = max(best.get(i, -1.0) for i in reps)
        else:
            score = sum(mass.get(i, 0.0) for i in reps)
        hits.append(
            Hit(
                video=video,
                start_s=float(clip.start_s),
                end_s=float(max(clip.end_s, clip.start_s)),
                score=round(score, 6),
            )
        )
    hits.sort(key=lambda h: (-h.score, h.start_s))
    return tuple(hits)


def _peak_memory_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            mb = max(mb, torch.cuda.max_memory_allocated() / 2**20)
    except Exception:  # pragma: no cover
        pass
    return round(mb, 1)
