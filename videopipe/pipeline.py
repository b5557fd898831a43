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

import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.config import PipelineConfig, check_size_px
from videopipe.errors import ConfigError, InputError, one_line
from videopipe.models.contract import VideoLLM
from videopipe.types import Answer, Budget, Frames, Hit, Selection, Stats, VideoInfo

if TYPE_CHECKING:
    from videopipe.models.contract import Generation, ModelFacts, Turn
    from videopipe.text.timeline import TextLine, Timeline
    from videopipe.types import VisualTokens


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
    timeline: Timeline | None = None  # the video's timed text (None: --text none)


@dataclass
class Decoded:
    """A video after the CPU stage (:meth:`Pipeline.select_and_decode`): the selected clips'
    frames, ready for the model. Picklable (host numpy frames), so a decode worker can hand it
    to a model worker.

    video:          the checked path
    groups:         the selected frames, one ``Frames`` per frame size, in time order, tagged
                    with clip ids; empty when ``cached``
    selection:      what the sampler chose (None when ``cached``: the cache holds it)
    info:           the video's ``VideoInfo`` (None when ``cached``)
    frames_decoded: frames decoded by the sampler's probes plus the selected ones
    seconds:        time per stage so far (decode, sample, retrieve)
    cache_key:      the token-cache key (None when the cache is off or the selection depends
                    on the question)
    cached:         the token cache already holds this video's tokens: nothing was decoded
    facts:          the model facts the frames were selected for (checked by the model stage)
    timeline:       the video's timed text from the chosen sources (None: ``--text none``)
    """

    video: str
    groups: tuple[Frames, ...]
    selection: Selection | None
    info: VideoInfo | None
    frames_decoded: int
    facts: ModelFacts
    seconds: dict[str, float] = field(default_factory=dict)
    cache_key: str | None = None
    cached: bool = False
    timeline: Timeline | None = None


#: the name of the thread :meth:`Pipeline.preload` starts
MODEL_LOAD_THREAD = "videopipe-model-load"


def model_loading() -> bool:
    """True while a :meth:`Pipeline.preload` thread of this process is still loading."""
    return any(t.name == MODEL_LOAD_THREAD and t.is_alive() for t in threading.enumerate())


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

    model:       a model spec (hub id / local path of a supported video LLM, or a ``MODELS``
                 entry name such as ``"smolvlm"``), or a model object implementing
                 ``videopipe.models.contract.VideoLLM``
    sampler:     sampler name (``videopipe list``) or a sampler object
    compressor:  compressor spec (``"none"``, ``"progressive"``, ``"temporal_merge+progressive"``)
                 or a compressor object
    budget:      frames / visual tokens the model may see; default from ``config``
    retriever:   optional ``videopipe.retrieval`` retriever; with ``retrieve_k`` the sampler only
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
        sampler: Any = None,
        compressor: Any = None,
        budget: Budget | None = None,
        retriever: Any = None,
        retrieve_k: int | None = None,
        embedder: Any = None,
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
        self._model: VideoLLM | None = None
        self._model_lock = threading.RLock()
        self._loader: threading.Thread | None = None
        self._load_error: BaseException | None = None
        if model is not None and not isinstance(model, str):
            self._model = _checked_model(model)
        elif load_model:
            self._model = _checked_model(_load_model(cfg))
        #: what sampling and decoding need to know about the model (see ModelFacts)
        self.facts: ModelFacts = self._model.facts() if self._model is not None else _read_facts(cfg)
        #: decode_size before the model is loaded (None: loaded, or no such rule)
        self._sizer = None if self._model is not None else _read_sizer(cfg)
        self.sampler = _make_sampler(sampler if sampler is not None else cfg.sampler)
        self.sampler_name = sampler if isinstance(sampler, str) else self.sampler.name
        comp = compressor if compressor is not None else cfg.compressor
        self.compressor = _make_compressor(comp)
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
        self.embedder = _make_embedder(emb) if isinstance(emb, str) else emb
        self.retriever = retriever
        self.retrieve_k = retrieve_k if retrieve_k is not None else cfg.retrieve
        from videopipe.text.sources import choose_sources

        #: the text sources this pipeline reads (``--text``), and why any of "auto" were left out
        self.text = choose_sources(cfg.text, asr_model=cfg.asr_model)
        _check_backend(cfg.decode_backend)  # before a cached video skips the decoder
        if self.retrieve_k and retriever is None:
            _check_retrieval(cfg, has_text=bool(self.text.sources), embedder=self.embedder)
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
        with self._model_lock:
            if self._model is None:
                loader, self._loader = self._loader, None
                if loader is not None:
                    loader.join()
                    failed, self._load_error = self._load_error, None
                    if failed is not None:
                        raise failed
                if self._model is None:
                    self._model = self._load_checked()
            return self._model

    def preload(self) -> None:
        """Start loading the model in a background thread and return at once, so that the
        imports and weights load while the video is probed and decoded (the CPU work of
        decoding runs in C without the interpreter lock). :attr:`model` waits for it and
        raises what it raised. Does nothing when the model is loaded or loading."""
        with self._model_lock:
            if self._model is not None or self._loader is not None:
                return
            self._loader = threading.Thread(
                target=self._load_in_background, name=MODEL_LOAD_THREAD, daemon=True
            )
            self._loader.start()

    def _load_in_background(self) -> None:
        try:
            self._model = self._load_checked()
        except BaseException as e:  # handed to the thread that waits for the model
            self._load_error = e

    def _load_checked(self) -> VideoLLM:
        model = _checked_model(_load_model(self.config))
        _check_facts(model.facts(), self.facts, what=f"the loaded model {self.config.model!r}")
        return model

    def _model_timed(self, timer: _Timer) -> VideoLLM:
        """:attr:`model`, the time spent waiting for it (loading, or a :meth:`preload` still
        running) counted as the ``load`` stage."""
        if self._model is None:
            with timer.stage("load"):
                self.model  # noqa: B018 - loads, or waits for preload
        model = self._model
        assert model is not None
        if self.model_progress is not None:
            model.progress = self.model_progress
        return model

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    @property
    def query_dependent(self) -> bool:
        """True when the selection depends on the question (query-aware sampler, retrieval):
        such videos cannot be decoded once for all questions."""
        return _query_dependent(self.sampler, self.retrieve_k)

    # ------------------------------------------------------------------------------------
    def prepare(self, video: str | Path, question: str | None = None) -> Prepared:
        """Decode, sample and encode ``video`` (cached on disk when enabled): the CPU stage
        :meth:`select_and_decode` followed by the model stage :meth:`prepare_from`.

        ``question`` is only used by query-aware samplers and retrieval."""
        return self.prepare_from(self.select_and_decode(video, question))

    def select_and_decode(self, video: str | Path, question: str | None = None) -> Decoded:
        """The CPU stage: open ``video``, sample it and decode the selected clips at their
        sizes. Needs no model (see ``load_model=False``). When the token cache already holds
        this video's tokens nothing is decoded (``Decoded.cached``).

        ``question`` is only used by query-aware samplers and retrieval."""
        from videopipe.decode.probe import check_path

        path = check_path(video)  # a clear error for a missing/empty path before the cache reads it
        cache = self._token_cache()
        key = None
        if cache is not None and not self.query_dependent:
            key = cache.key(
                path,
                sampler=self.sampler_name,
                budget=self.budget,
                model=self.facts.model_id,
                quantize=self.config.quantize,
                vision_merge=self.config.vision_merge,
            )
            if cache.contains(key):
                timer = _Timer()
                timer.seconds["cache"] = 0.0
                timeline = self._timeline(path, timer)
                return Decoded(
                    video=str(path),
                    groups=(),
                    selection=None,
                    info=None,
                    frames_decoded=0,
                    facts=self.facts,
                    seconds=timer.seconds,
                    cache_key=key,
                    cached=True,
                    timeline=timeline,
                )
        return self._decode(path, question, key)

    def timeline(self, video: str | Path) -> Timeline | None:
        """The timed text of ``video`` from this pipeline's sources (``--text``; cached on disk
        like the visual tokens), or None for ``--text none``."""
        from videopipe.decode.probe import check_path

        return self._timeline(check_path(video), _Timer())

    def _timeline(self, path: Path, timer: _Timer) -> Timeline | None:
        if not self.text.sources:
            return None
        from videopipe.text.build import load_timeline
        from videopipe.text.speech import ASRConfig
        from videopipe.text.timeline import TextSource

        with timer.stage("text"):
            return load_timeline(
                path,
                self.text.sources,
                asr=ASRConfig(model=self.config.asr_model)
                if TextSource.speech in self.text.sources
                else None,
                subtitles_win=not self.config.speech_with_subtitles,
                progress=self.text_progress,
                cache=self.config.cache_tokens,
                cache_dir=self.config.resolved_cache_dir(),
            )

    def _decode(self, path: Path, question: str | None, key: str | None) -> Decoded:
        from videopipe.decode import open_video

        timer = _Timer()
        # the text comes first: retrieval embeds it; the probe in open_video has checked nothing
        # yet, so a file that is not a video fails in open_video below with its usual message
        timeline = self._timeline(path, timer) if self.retrieve_k else None
        with (
            timer.stage("decode"),
            open_video(path, backend=self.config.decode_backend, device=self.decode_device) as reader,
        ):
            view, span_scores = reader, None
            if self.retrieve_k:
                with timer.stage("retrieve"):
                    view, span_scores = self._restrict(reader, path, question, timeline)
            with timer.stage("sample"):
                selection = self.sampler(view, self.budget, query=question, features=self.embedder)
                if span_scores is not None:
                    selection = view.to_real(selection, span_scores)
            if selection.num_frames < 1:
                raise InputError(f"{path}: the sampler selected no frames")
            groups = _decode_selection(
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
        decoded = selection.frames_decoded + sum(len(g) for g in groups)
        return Decoded(
            video=str(path),
            groups=tuple(groups),
            selection=selection,
            info=info,
            frames_decoded=decoded,
            facts=self.facts,
            seconds=timer.seconds,
            cache_key=key,
            timeline=timeline,
        )

    def _decode_size(self, height: int, width: int, num_frames: int) -> tuple[int, int]:
        """The size the loaded model encodes ``num_frames`` frames chosen at (height, width) at
        (``VideoLLM.decode_size``). Before the model is loaded (``load_model=False``, a
        :meth:`preload` still running) the same rule read from the checkpoint's files, so the
        size never depends on when the weights arrive; the chosen size for a model without it."""
        if self._model is not None:
            return self._model.decode_size(height, width, num_frames, self.budget)
        if self._sizer is not None:  # the same rule from the checkpoint's files (no weights)
            return self._sizer(height, width, num_frames, self.budget)
        return height, width

    def prepare_from(self, decoded: Decoded) -> Prepared:
        """The model stage of :meth:`prepare`: encode the frames of ``decoded`` (from
        :meth:`select_and_decode`, possibly in another process) and save them in the token
        cache; a cached video's tokens are loaded instead."""
        _check_facts(decoded.facts, self.facts, what=f"the frames of {decoded.video}")
        cache = self._token_cache() if decoded.cache_key is not None else None
        if decoded.cached:
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
        assert decoded.selection is not None and decoded.info is not None
        timer = _Timer()
        timer.seconds.update(decoded.seconds)
        model = self._model_timed(timer)  # load_model=False: it loads (or finishes loading) here
        with timer.stage("encode"):
            tokens = _encode(model, list(decoded.groups), decoded.info.duration_s)
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
        question: str,
        *,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Compress the prepared tokens for ``question`` and generate the answer.

        ``history``: a conversation's earlier turns (system, user, assistant), written through
        the model's chat template where it converses (``can_converse``), else before the
        question in its text.

        ``temperature`` 0 decodes greedily; above 0 samples (models whose ``can_sample``).
        ``on_text`` is called with each piece of the answer as it is generated
        (``VideoLLM.generate_stream``; the pieces join to the answer's text); an exception it
        raises stops the generation and propagates."""
        import torch

        question = check_question(question, prepared.video)
        if not isinstance(temperature, (int, float)) or not 0 <= temperature < float("inf"):
            raise InputError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
        timer = _Timer()
        timer.seconds.update(prepared.seconds)
        model = self._model_timed(timer)  # a cached video's tokens: the model loads only here
        if temperature and not model.can_sample:
            raise InputError(
                f"model {model.model_id} decodes greedily only; use temperature 0 (got {temperature})"
            )
        tokens = prepared.tokens
        # compressor "none" means "send every token": the visual-token budget does not apply
        limit = None if self.compressor_name == "none" else self.max_visual_tokens
        with timer.stage("compress"):
            q = _question_embeddings(model, question)
            query = None if q is None else torch.nn.functional.normalize(q.mean(0), dim=0).to(tokens.device)
            compressed = self.compressor(tokens, limit or len(tokens), query_embedding=query)
        if limit is not None and len(compressed) > limit:
            raise ConfigError(
                f"compressor {self.compressor_name!r} returned {len(compressed)} tokens for a budget of "
                f"{limit}; choose a compressor (e.g. 'pool' or 'temporal_merge') that honours "
                "--max-visual-tokens"
            )
        with timer.stage("text"):
            lines, spans, text_tokens = self._prompt_lines(model, prepared, question)
            prompt = model.with_text(question, lines)
            conversation = {"history": tuple(history)} if history and model.can_converse else {}
            if history and not model.can_converse:
                prompt = _history_text(history) + prompt
        first_token_s = None
        with timer.stage("generate"):
            limit_new = max_new_tokens or self.config.max_new_tokens
            # always streamed (the pieces join to generate()'s text): the first piece's time is
            # the prefill a user waits through before the answer starts
            t0 = time.perf_counter()
            pieces = []
            for piece in model.generate_stream(
                compressed, prompt, max_new_tokens=limit_new, temperature=float(temperature), **conversation
            ):
                if first_token_s is None:
                    first_token_s = time.perf_counter() - t0
                pieces.append(piece)
                if on_text is not None:
                    on_text(piece)
            text = "".join(pieces)
            generation = _generation(model, compressed, prompt, text, limit_new)
        with timer.stage("evidence"):
            relevance = _token_relevance(compressed, q)
            evidence = _evidence(prepared.video, prepared.selection, compressed, relevance, tokens)
            if prepared.timeline is not None:
                evidence = _with_text_matches(evidence, prepared.timeline, question, spans)
        timeline = prepared.timeline
        stats = Stats(
            frames_decoded=prepared.frames_decoded,
            frames_selected=prepared.selection.num_frames,
            tokens_before=len(tokens),
            tokens_after=len(compressed),
            seconds={k: round(v, 4) for k, v in timer.seconds.items()},
            peak_memory_mb=_peak_memory_mb(),
            cached=prepared.cached,
            text_lines=len(lines),
            text_tokens=text_tokens,
            text_sources=tuple(sorted({str(ln.source) for ln in lines})),
            notes=self.text.notes + (timeline.notes if timeline is not None else ()),
            first_token_s=None if first_token_s is None else round(first_token_s, 4),
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            finish_reason=generation.finish_reason,
        )
        return Answer(text=text, evidence=evidence, stats=stats, video=prepared.video, question=question)

    def _prompt_lines(
        self, model: VideoLLM, prepared: Prepared, question: str
    ) -> tuple[list[TextLine], list[tuple[float, float]], int]:
        """The timeline's lines of the sampled spans within the text budget, those spans, and
        the lines' tokens (each line is tokenized once, for the budget and the stats)."""
        from videopipe.text.prompt import lines_for_prompt, sampled_spans

        times = [t for clip in prepared.selection.clips for t in clip.times_s]
        spans = sampled_spans(times)
        if prepared.timeline is None or not len(prepared.timeline):
            return [], spans, 0
        counted: dict[str, int] = {}

        def count(text: str) -> int:
            if text not in counted:
                counted[text] = model.count_text_tokens(text)
            return counted[text]

        lines = lines_for_prompt(
            prepared.timeline,
            spans,
            question,
            max_tokens=self.config.max_text_tokens,
            count_tokens=count,
        )
        return lines, spans, sum(count(ln.text) for ln in lines)

    def ask(self, video: str | Path, question: str, *, max_new_tokens: int | None = None) -> Answer:
        """Answer ``question`` about ``video``, with evidence timestamps and stats."""
        question = check_question(question, str(video))
        prepared = self.prepare(video, question)
        return self.answer(prepared, question, max_new_tokens=max_new_tokens)

    # the long-video jobs (videopipe.chapters / locate / summarize) on this pipeline's text and model
    def chapters(self, video: str | Path, **options: Any) -> Any:
        """:func:`videopipe.chapters.find_chapters` with this pipeline's timed text."""
        from videopipe.chapters.job import find_chapters

        return find_chapters(video, timeline=self.timeline(video), **options)

    def locate(self, video: str | Path, query: str, **options: Any) -> Any:
        """:func:`videopipe.locate.locate` with this pipeline's timed text."""
        from videopipe.locate.job import locate

        return locate(video, query, timeline=self.timeline(video), **options)

    def summarize(self, video: str | Path, **options: Any) -> Any:
        """:func:`videopipe.summarize.summarize` with this pipeline's model and timed text."""
        from videopipe.summarize.job import summarize

        timeline = self.timeline(video)
        return summarize(
            video, model=self.model, timeline=timeline, cache_dir=self.config.resolved_cache_dir(), **options
        )

    # ------------------------------------------------------------------------------------
    def _save_tokens(self, cache: Any, key: str, tokens: VisualTokens, selection: Selection) -> None:
        """Save to the token cache; a cache that cannot be written (a file where its folder
        belongs, read-only, a full disk) only costs time: one warning, then no cache."""
        try:
            cache.save(key, tokens, selection)
        except (OSError, RuntimeError) as e:  # torch.save reports a failed write as RuntimeError
            self._cache_off = True
            warnings.warn(
                f"token cache {cache.root} cannot be written ({type(e).__name__}: {one_line(e)}); "
                "going on without it (set VIDEOPIPE_CACHE to a writable folder, or pass --no-cache)",
                CacheWarning,
                stacklevel=2,
            )

    def _token_cache(self) -> Any:
        if not self.config.cache_tokens or self._cache_off:
            return None
        from videopipe.cache import TokenCache

        return TokenCache(self.config.resolved_cache_dir() / "tokens")

    def _restrict(
        self, reader: Any, path: Path, question: str | None, timeline: Timeline | None = None
    ) -> tuple[Any, list[float] | None]:
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
            hits = retrieve_clips(
                path, question, k=k, index_dir=self.config.index_dir, embedder=emb, timeline=timeline
            )
        if not hits:
            warnings.warn(
                f"{path}: retrieval found no clips for the question (no text or frames to match in "
                f"the video with this embedder); sampling the whole video instead of the top {k}",
                RetrievalWarning,
                stacklevel=2,
            )
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
    """The model of the spec ``cfg.model`` (a checkpoint or a ``MODELS`` entry)."""
    from videopipe.models import load_model

    return load_model(
        cfg.model, device=cfg.device, dtype=cfg.dtype, quantize=cfg.quantize, vision_merge=cfg.vision_merge
    )


def _read_sizer(cfg: PipelineConfig) -> Callable[..., tuple[int, int]] | None:
    from videopipe.models.loading import read_model_sizer

    return read_model_sizer(cfg.model)


def _read_facts(cfg: PipelineConfig) -> ModelFacts:
    """The model facts of ``cfg.model`` without loading it (config files only)."""
    from videopipe.models import read_model_facts

    return read_model_facts(cfg.model)


def _checked_model(model: Any) -> VideoLLM:
    if not isinstance(model, VideoLLM):
        raise ConfigError(
            f"model {type(model).__name__} is not a videopipe VideoLLM: it needs model_id, token_px, "
            "min_frames, mixed_resolution, can_sample, progress, encode, generate, generate_stream, encode_clips, "
            "decode_size, text_embeddings and facts; "
            "subclass videopipe.models.contract.VideoLLM to get the defaults of the optional ones"
        )
    return model


def _check_facts(got: ModelFacts, expected: ModelFacts, *, what: str) -> None:
    if got != expected:
        raise ConfigError(
            f"{what}: model geometry {got} differs from this pipeline's {expected}; build the "
            "decoding and the answering pipelines from the same config (model, sampler, budget)"
        )


def _make_sampler(spec: Any) -> Any:
    if not isinstance(spec, str):
        missing = [a for a in ("name", "uses_query") if not hasattr(spec, a)]
        if missing or not callable(spec):
            what = f"has no {', '.join(missing)}" if missing else "is not callable"
            raise ConfigError(
                f"sampler {spec!r} {what}; a sampler is a registered name or an object following "
                "videopipe.protocols.Sampler (subclass videopipe.samplers._base.BaseSampler, or set "
                "name and uses_query)"
            )
        return spec
    from videopipe.registry import SAMPLERS

    return SAMPLERS.create(spec)


def _make_compressor(spec: Any) -> Any:
    if not isinstance(spec, str):
        missing = [a for a in ("name", "merges", "default_budget") if not hasattr(spec, a)]
        if missing or not callable(spec):
            what = f"has no {', '.join(missing)}" if missing else "is not callable"
            raise ConfigError(
                f"compressor {spec!r} {what}; a compressor is a registered name or an object "
                "following videopipe.protocols.Compressor (subclass it to get the defaults of "
                "merges and default_budget)"
            )
        return spec
    from videopipe.compressors import build

    return build(spec)


def _make_embedder(name: str) -> Any:
    from videopipe.registry import EMBEDDERS

    return EMBEDDERS.create(name)


class CacheWarning(UserWarning):
    """The token cache cannot be written: the pipeline goes on without it."""


class RetrievalWarning(UserWarning):
    """``--retrieve`` found nothing to restrict sampling to: the whole video is sampled."""


def _check_backend(name: str) -> None:
    """An unknown ``decode_backend`` fails here, also when every video is in the token cache
    (no decoder is opened then)."""
    if name != "auto":
        from videopipe.registry import DECODERS

        DECODERS.get(name)  # UnknownPluginError listing the valid names


def _check_retrieval(cfg: PipelineConfig, *, has_text: bool, embedder: Any) -> None:
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
    if has_text or _embedder_modality(embedder if embedder is not None else "text") != "text":
        return
    raise ConfigError(
        "--retrieve with a text embedder needs the video's text, and --text none gives it none; "
        "pass --text auto (or subtitles, speech, screen), or an image embedder (--embedder clip)"
    )


def _embedder_modality(embedder: Any) -> str | None:
    """``"text"`` or ``"image"`` for a registered name or an embedder object; None when not
    known without importing it (a ``module:attr`` path)."""
    if not isinstance(embedder, str):
        return str(embedder.modality)
    if ":" in embedder:
        return None
    from videopipe.registry import EMBEDDERS

    return str(EMBEDDERS.get(embedder).modality)


def _query_dependent(sampler: Any, retrieve_k: int | None) -> bool:
    """Selections that depend on the question cannot be shared across questions."""
    return bool(retrieve_k) or bool(sampler.uses_query)


def config_query_dependent(config: PipelineConfig) -> bool:
    """:meth:`Pipeline.query_dependent` for the pipeline ``config`` builds, without building
    it (its sampler is named by the config)."""
    from videopipe.registry import SAMPLERS

    return bool(config.retrieve) or bool(SAMPLERS.get(config.sampler).uses_query)


def _decode_selection(
    reader: Any,
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


def _encode(model: VideoLLM, groups: list[Frames], duration_s: float) -> VisualTokens:
    return model.encode_clips(groups, duration_s=duration_s)


def _question_embeddings(model: VideoLLM, question: str) -> Any:
    """The model's own input embeddings of the question's tokens [L, D] (the space the
    projector maps visual tokens into), or None when the adapter cannot embed text."""
    q = model.text_embeddings(question)
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


def _with_text_matches(
    evidence: tuple[Hit, ...], timeline: Timeline, question: str, spans: list[tuple[float, float]]
) -> tuple[Hit, ...]:
    """Each evidence clip with the line of the video's text, around it, that shares the most
    words with the question (``Hit.match``), when one shares any."""
    from dataclasses import replace

    from videopipe.text.prompt import best_line
    from videopipe.types import TextMatch

    out = []
    for h in evidence:
        # a clip of one frame stands for the sampled span around it
        around = [(a, b) for a, b in spans if a <= h.end_s and h.start_s <= b] or [(h.start_s, h.end_s)]
        lo, hi = min(a for a, _ in around), max(b for _, b in around)
        found = best_line(timeline.between(lo, max(hi, lo + 1e-3)), question)
        if found is None:
            out.append(h)
            continue
        line, share = found
        m = TextMatch(line.start_s, line.end_s, line.text, str(line.source), round(share, 4))
        out.append(replace(h, text=h.text or line.text, source=h.source or str(line.source), match=m))
    return tuple(out)


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


def _generation(model: VideoLLM, tokens: VisualTokens, prompt: str, text: str, limit: int) -> Generation:
    """What the answer cost: the model's own count, else the tokenizer's (the prompt's text and
    the visual tokens; "length" when the answer has ``limit`` tokens)."""
    from videopipe.models.contract import Generation

    if model.last_generation is not None:
        return model.last_generation
    completion = model.count_text_tokens(text) if text else 0
    return Generation(
        prompt_tokens=len(tokens) + model.count_text_tokens(prompt),
        completion_tokens=completion,
        finish_reason="length" if completion >= limit else "stop",
    )


def _history_text(history: Sequence[Turn]) -> str:
    """Earlier turns as text before the question (for models that take no ``history``)."""
    lines = [f"{t.role.capitalize()}: {t.text}" for t in history]
    return "Earlier in this conversation:\n" + "\n".join(lines) + "\n\n"
