"""The pipeline: decode -> sample -> encode -> compress -> (retrieve) -> generate.

This is the one place that knows the order of the stages. Each stage is a plugin chosen by
name (see ``videopipe list``) or passed in as an object.

    from videopipe.pipeline import Pipeline
    pipe = Pipeline(model="Qwen/Qwen2.5-VL-3B-Instruct", sampler="keyframe", compressor="progressive")
    answer = pipe.ask("talk.mp4", "When does the speaker show the chart?")
    print(answer.text, [(h.start_s, h.end_s) for h in answer.evidence])

Per video the work splits into a CPU stage and a model stage, so that batch jobs can decode
the next video while the model encodes the current one (``videopipe batch``):

    decoded = pipe.select_and_decode("talk.mp4")   # open, sample, decode (no model needed)
    prepared = pipe.prepare_from(decoded)          # encode (token cache respected)
    answer = pipe.answer(prepared, "What happens?")

``Pipeline(..., load_model=False)`` builds a pipeline for the CPU stage: the model is loaded
only if a model stage runs (its token geometry is read from the checkpoint's config files).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe import answer_steps
from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, InputError
from videopipe.evidence import evidence_of, token_relevance, with_text_matches
from videopipe.model_records import GenerationOptions, ModelGeometry
from videopipe.model_slot import MODEL_LOAD_THREAD, ModelSlot, model_loading
from videopipe.pipeline_cache import TokenCacheUse
from videopipe.pipeline_jobs import LongVideoJobs
from videopipe.pipeline_records import CachedVideo, Decoded, DecodedVideo, Prepared, Restricted, StageTimer
from videopipe.protocols import Compressor, Embedder, Retriever, Sampler, VideoLLM
from videopipe.request import Request, as_request, check_question, check_request, check_video
from videopipe.settings import check_size_px
from videopipe.stages import (
    CacheWarning,
    RetrievalWarning,
    check_backend,
    check_facts,
    check_retrieval,
    checked_model,
    config_query_dependent,
    decode_selection,
    make_compressor,
    make_embedder,
    make_retriever,
    make_sampler,
    query_dependent,
    restrict,
)
from videopipe.types import Answer, Budget

if TYPE_CHECKING:
    from videopipe.model_records import ModelFacts, Turn
    from videopipe.text.timeline import Timeline

__all__ = [
    "MODEL_LOAD_THREAD",
    "CacheWarning",
    "CachedVideo",
    "Decoded",
    "DecodedVideo",
    "Pipeline",
    "Prepared",
    "RetrievalWarning",
    "check_question",
    "config_query_dependent",
    "model_loading",
]


class Pipeline(TokenCacheUse, LongVideoJobs):
    """Ties the stages together. Construct once (the model loads here), ask many questions.

    model:       a model spec (hub id / local path of a supported video LLM, or a ``MODELS``
                 entry name such as ``"smolvlm"``), or a model object implementing
                 ``videopipe.protocols.VideoLLM``
    sampler:     sampler name (``videopipe list``) or a sampler object
    compressor:  compressor spec (``"none"``, ``"progressive"``, ``"temporal_merge+progressive"``)
                 or a compressor object
    budget:      frames / visual tokens the model may see; default from ``config``
    retriever:   optional retriever (``videopipe.protocols.Retriever``, e.g. ``videopipe.retrieval``'s); with ``retrieve_k`` the sampler only
                 sees the top-k clips for the question (plus context)
    embedder:    embedder name or object for query-aware samplers (``query``, ``keyclip``)
    load_model:  False: do not load the model now, only read its token geometry from the
                 checkpoint's config files (a pipeline for :meth:`select_and_decode` in a CPU
                 worker); it loads on first use of :attr:`model`
    decode_device: ``open_video``'s device: ``"auto"`` (a GPU decoder when one is usable) or
                 ``"cpu"`` (what batch decode workers use: their frames cross to the model
                 worker as host arrays, and they hold no CUDA context)
    """

    def __init__(
        self,
        model: str | VideoLLM | None = None,
        *,
        sampler: str | Sampler | None = None,
        compressor: str | Compressor | None = None,
        budget: Budget | None = None,
        retriever: Retriever | None = None,
        retrieve_k: int | None = None,
        embedder: str | Embedder | None = None,
        config: PipelineConfig | None = None,
        load_model: bool = True,
        decode_device: str = "auto",
    ) -> None:
        if decode_device not in ("auto", "cpu") and not decode_device.startswith("cuda"):
            raise ConfigError(f"decode_device {decode_device!r} is not one of auto, cpu, cuda, cuda:N")
        self.decode_device = decode_device
        self._cache_off = False  # set when the token cache could not be written
        cfg = config or PipelineConfig()
        if isinstance(model, str):
            cfg = cfg.with_overrides(model=model)
        self.config = cfg
        given = None
        if model is not None and not isinstance(model, str):
            given = checked_model(model)
        elif load_model:
            given = checked_model(_load_model(cfg))
        self._slot = ModelSlot(self._load_checked, given)
        #: the model's geometry read once from its checkpoint's files when the model is not
        #: loaded yet: the facts and the resize rule the loaded model will have (None: loaded)
        self._geometry: ModelGeometry | None = None
        if given is None:
            self._geometry = _read_geometry(cfg)
        #: what sampling and decoding need to know about the model (see ModelFacts)
        self.facts: ModelFacts = given.facts() if given is not None else self._geometry.facts
        self.sampler = make_sampler(sampler if sampler is not None else cfg.sampler)
        self.sampler_name = sampler if isinstance(sampler, str) else self.sampler.name
        comp = compressor if compressor is not None else cfg.compressor
        self.compressor = make_compressor(comp)
        self.compressor_name = comp if isinstance(comp, str) else self.compressor.name
        if budget is None:  # the size range depends on the model's token size: name the model
            check_size_px(cfg.size_px, token_px=self.facts.token_px, model=self.facts.model_id)
        self.budget = budget or Budget(
            num_frames=cfg.num_frames,
            max_tokens=None,
            size_px=cfg.size_px,
            token_px=self.facts.token_px,
            min_frames=self.facts.min_frames,
        )
        self.max_visual_tokens = cfg.max_visual_tokens
        emb = embedder if embedder is not None else cfg.embedder
        self.embedder: Embedder | None = None if emb is None else make_embedder(emb)
        self.retriever = make_retriever(retriever)
        self.retrieve_k = retrieve_k if retrieve_k is not None else cfg.retrieve
        from videopipe.text.sources import choose_sources

        #: the text sources this pipeline reads (``--text``), and why any of "auto" were left out
        self.text = choose_sources(cfg.text, asr_model=cfg.asr_model)
        check_backend(cfg.decode_backend)  # before a cached video skips the decoder
        if self.retrieve_k and retriever is None:
            check_retrieval(cfg, has_text=bool(self.text.sources), embedder=self.embedder)
        #: ``progress(source, done_s, total_s)`` while speech is transcribed or screen text read
        #: (the CLI sets a progress bar here); None: silent
        self.text_progress: Callable[[str, float, float], None] | None = None
        #: ``progress(stage, done, total)`` handed to the model while it encodes, prefills and
        #: generates (``VideoLLM.progress``; the CLI sets a progress bar here); None: the model's own
        self.model_progress: Callable[[str, int, int], None] | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig, **kwargs: Any) -> Pipeline:
        return cls(config=config, **kwargs)

    @property
    def model(self) -> VideoLLM:
        """The video LLM (loaded on first use when built with ``load_model=False``; waits for a
        load :meth:`preload` started)."""
        return self._slot.get()

    def preload(self) -> None:
        """Start loading the model in a background thread and return at once (see
        :meth:`ModelSlot.preload`); :attr:`model` waits for it and raises what it raised."""
        self._slot.preload()

    def _load_checked(self) -> VideoLLM:
        model = checked_model(_load_model(self.config))
        check_facts(model.facts(), self.facts, what=f"the loaded model {self.config.model!r}")
        return model

    def _model_timed(self, timer: StageTimer) -> VideoLLM:
        """:attr:`model`, the time spent waiting for it (loading, or a :meth:`preload` still
        running) counted as the ``load`` stage."""
        if self._slot.loaded is None:
            with timer.stage("load"):
                self._slot.get()  # loads, or waits for preload
        model = self._slot.get()
        if self.model_progress is not None:
            model.progress = self.model_progress
        return model

    @property
    def model_loaded(self) -> bool:
        return self._slot.loaded is not None

    @property
    def query_dependent(self) -> bool:
        """True when the selection depends on the question (query-aware sampler, retrieval):
        such videos cannot be decoded once for all questions."""
        return query_dependent(self.sampler, self.retrieve_k)

    # ------------------------------------------------------------------------------------
    def prepare(self, video: str | Path | Request, question: str | None = None) -> Prepared:
        """Decode, sample and encode ``video`` (cached on disk when enabled): the CPU stage
        :meth:`select_and_decode` followed by the model stage :meth:`prepare_from`.

        ``question`` is only used by query-aware samplers and retrieval."""
        return self.prepare_from(self.select_and_decode(video, question))

    def select_and_decode(self, video: str | Path | Request, question: str | None = None) -> Decoded:
        """The CPU stage: open ``video``, sample it and decode the selected clips at their
        sizes. Needs no model (see ``load_model=False``). When the token cache already holds
        this video's tokens nothing is decoded (a :class:`CachedVideo`); else a
        :class:`DecodedVideo`.

        ``video`` is a path (checked here: a clear error for a missing or empty file before
        the cache reads it) or a :class:`~videopipe.request.Request` the caller checked
        (its question is the one used). ``question`` is only used by query-aware samplers and
        retrieval."""
        if isinstance(video, Request):
            path, question = video.video, video.question
        else:
            path = check_video(video)
        key = self.token_cache_key(path)
        if self._token_cached(key):
            timer = StageTimer({"cache": 0.0})
            timeline = self._timeline(path, timer)
            return CachedVideo(
                video=str(path), facts=self.facts, cache_key=key, seconds=timer.seconds, timeline=timeline
            )
        return self._decode(path, question, key)

    def timeline(self, video: str | Path) -> Timeline | None:
        """The timed text of ``video`` from this pipeline's sources (``--text``; cached on disk
        like the visual tokens), or None for ``--text none``."""
        return self._timeline(check_video(video), StageTimer())

    def _timeline(self, path: Path, timer: StageTimer) -> Timeline | None:
        """The timed text of the checked ``path`` (see :meth:`timeline`)."""
        if not self.text.sources:
            return None
        from videopipe.text.build import load_timeline
        from videopipe.text.speech import ASRConfig
        from videopipe.text.timeline import TextSource

        asr = ASRConfig(model=self.config.asr_model) if TextSource.speech in self.text.sources else None
        with timer.stage("text"):
            return load_timeline(
                path,
                self.text.sources,
                asr=asr,
                subtitles_win=not self.config.speech_with_subtitles,
                progress=self.text_progress,
                cache=self.config.cache_tokens,
                cache_dir=self.config.resolved_cache_dir(),
                checked=True,
            )

    def _decode(self, path: Path, question: str | None, key: str | None) -> DecodedVideo:
        from videopipe.decode import open_video

        timer = StageTimer()
        # the text comes first: retrieval embeds it; the probe in open_video has checked nothing
        # yet, so a file that is not a video fails in open_video below with its usual message
        timeline = self._timeline(path, timer) if self.retrieve_k else None
        with (
            timer.stage("decode"),
            open_video(path, backend=self.config.decode_backend, device=self.decode_device) as reader,
        ):
            restricted = Restricted(view=reader)
            if self.retrieve_k:
                with timer.stage("retrieve"):
                    restricted = restrict(
                        reader,
                        path,
                        question,
                        k=int(self.retrieve_k),
                        retriever=self.retriever,
                        embedder=self.embedder
                        if self.embedder is not None
                        else (self.config.embedder or "text"),
                        index_dir=self.config.index_dir,
                        timeline=timeline,
                    )
            with timer.stage("sample"):
                selection = restricted.real(
                    self.sampler(restricted.view, self.budget, query=question, embedder=self.embedder)
                )
            if selection.num_frames < 1:
                raise InputError(f"{path}: the sampler selected no frames")
            groups = decode_selection(
                reader,
                selection,
                self.budget,
                mixed_resolution=self.facts.mixed_resolution,
                size_of=self._decode_size,
            )
            info = reader.info
        # decode time excludes sampling (which decodes its own probes)
        timer.seconds["decode"] -= timer.seconds.get("sample", 0.0) + timer.seconds.get("retrieve", 0.0)
        if not self.retrieve_k:
            timeline = self._timeline(path, timer)
        return DecodedVideo(
            video=str(path),
            groups=tuple(groups),
            selection=selection,
            info=info,
            frames_decoded=selection.frames_decoded + sum(len(g) for g in groups),
            facts=self.facts,
            seconds=timer.seconds,
            cache_key=key,
            timeline=timeline,
        )

    def _decode_size(self, height: int, width: int, num_frames: int) -> tuple[int, int]:
        """The size the loaded model encodes ``num_frames`` frames chosen at (height, width) at
        (``VideoLLM.decode_size``). Before the model is loaded (``load_model=False``, a
        :meth:`preload` still running) the same rule from the geometry read from the
        checkpoint's files, so the size never depends on when the weights arrive."""
        model = self._slot.loaded
        if model is not None:
            return model.decode_size(height, width, num_frames, self.budget)
        assert self._geometry is not None  # read when the pipeline started without the model
        return self._geometry.decode_size(height, width, num_frames, self.budget)

    def prepare_from(self, decoded: Decoded) -> Prepared:
        """The model stage of :meth:`prepare`: encode the frames of ``decoded`` (from
        :meth:`select_and_decode`, possibly in another process) and save them in the token
        cache; a cached video's tokens are loaded instead."""
        check_facts(decoded.facts, self.facts, what=f"the frames of {decoded.video}")
        cache = self._token_cache() if decoded.cache_key is not None else None
        if isinstance(decoded, CachedVideo):
            hit = cache.load(decoded.cache_key) if cache is not None else None
            if hit is not None:
                tokens, selection = hit
                return Prepared(
                    video=decoded.video,
                    tokens=tokens,
                    selection=selection,
                    frames_decoded=0,
                    seconds=dict(decoded.seconds),
                    cached=True,
                    timeline=decoded.timeline,
                )
            # the entry vanished or is corrupt since the CPU stage looked: decode it here
            decoded = self._decode(Path(decoded.video), None, decoded.cache_key)
        timer = StageTimer(decoded.seconds)
        model = self._model_timed(timer)  # load_model=False: it loads (or finishes loading) here
        with timer.stage("encode"):
            tokens = model.encode_clips(list(decoded.groups), duration_s=decoded.info.duration_s)
        if cache is not None and decoded.cache_key is not None:
            self._save_tokens(cache, decoded.cache_key, tokens, decoded.selection)
        return Prepared(
            video=decoded.video,
            tokens=tokens,
            selection=decoded.selection,
            frames_decoded=decoded.frames_decoded,
            seconds=timer.seconds,
            timeline=decoded.timeline,
        )

    def answer(
        self,
        prepared: Prepared,
        question: str | Request,
        *,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        """Compress the prepared tokens for the question and generate the answer: the steps of
        ``videopipe.answer_steps`` (compress, prompt text, generate) and the evidence.

        ``question`` is a checked :class:`~videopipe.request.Request` (its question, options
        and history are used: ``check_request`` at the face, or :meth:`ask`), or the question's
        text, trusted, with ``max_new_tokens`` and ``temperature``. ``Request.history``: a
        conversation's earlier turns (system, user, assistant), written through the model's chat
        template where it converses (``can_converse``), else before the question in its text.
        ``history=`` is the deprecated form of ``Request.history`` (with a question text only).

        ``temperature`` 0 decodes greedily; above 0 samples (models whose ``can_sample``).
        ``on_text`` is called with each piece of the answer as it is generated
        (``VideoLLM.generate_stream``; the pieces join to the answer's text); an exception it
        raises stops the generation and propagates."""
        request = as_request(question, Path(prepared.video), max_new_tokens, temperature, history)
        question = request.question
        options = GenerationOptions(
            max_new_tokens=request.max_new_tokens or self.config.max_new_tokens,
            temperature=request.temperature,
        )
        timer = StageTimer(prepared.seconds)
        model = self._model_timed(timer)  # a cached video's tokens: the model loads only here
        if options.samples and not model.can_sample:
            raise InputError(
                f"model {model.model_id} decodes greedily only; use temperature 0 (got {options.temperature})"
            )
        tokens = prepared.tokens
        with timer.stage("compress"):
            compressed = answer_steps.compress(
                model,
                self.compressor,
                tokens,
                question,
                # compressor "none" means "send every token": the visual-token budget does not apply
                limit=None if self.compressor_name == "none" else self.max_visual_tokens,
                compressor_name=self.compressor_name,
            )
        with timer.stage("text"):
            limit = self.config.max_text_tokens
            text = answer_steps.prompt_text(
                model, prepared, question, max_text_tokens=limit, history=request.history
            )
        with timer.stage("generate"):
            generated = answer_steps.generate(
                model, compressed.tokens, text.prompt, options, on_text=on_text, history=text.history
            )
        with timer.stage("evidence"):
            relevance = token_relevance(compressed.tokens, compressed.question_embedding)
            evidence = evidence_of(prepared.video, prepared.selection, compressed.tokens, relevance, tokens)
            if prepared.timeline is not None:
                evidence = with_text_matches(evidence, prepared.timeline, question, text.spans)
        timeline = prepared.timeline
        notes = self.text.notes + (timeline.notes if timeline is not None else ())
        stats = answer_steps.stats(prepared, compressed, text, generated, seconds=timer.seconds, notes=notes)
        return Answer(
            text=generated.text, evidence=evidence, stats=stats, video=prepared.video, question=question
        )

    def ask(self, video: str | Path, question: str, *, max_new_tokens: int | None = None) -> Answer:
        """Answer ``question`` about ``video``, with evidence timestamps and stats (the request
        is checked once, here: :func:`~videopipe.request.check_request`)."""
        request = check_request(video, question, max_new_tokens=max_new_tokens)
        return self.answer_request(request)

    def answer_request(self, request: Request, *, on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer a checked :class:`~videopipe.request.Request` (prepare + answer)."""
        return self.answer(self.prepare(request), request, on_text=on_text)


# ----------------------------------------------------------------------------------------
# the model's loading entry points (function-level imports: ``videopipe.models`` is heavy)
# ----------------------------------------------------------------------------------------
def _load_model(cfg: PipelineConfig) -> VideoLLM:
    """The model of the spec ``cfg.model`` (a checkpoint or a ``MODELS`` entry), with a disk KV cache."""
    from videopipe.models import load_model
    from videopipe.prefix_store import keep_prefixes_on_disk

    model = load_model(
        cfg.model,
        device=cfg.device,
        dtype=cfg.dtype,
        quantize=cfg.quantize,
        vision_merge=cfg.vision_merge,
        quantize_store=cfg.resolved_cache_dir() / "int8-weights" if cfg.cache_tokens else None,
    )
    return keep_prefixes_on_disk(model, cfg)


def _read_geometry(cfg: PipelineConfig) -> ModelGeometry:
    """The geometry (facts, resize rule) of ``cfg.model`` from its config files, unloaded."""
    from videopipe.models.loading import read_model_geometry

    return read_model_geometry(cfg.model)
