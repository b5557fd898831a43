"""The model worker: one loaded model, a bounded queue of requests, and the pipeline's split
into a CPU stage and a model stage (the split ``videopipe batch`` runs across processes).

* CPU stage (``decode_threads`` threads): check and probe the file (the CLI's fast one-line
  failures), then ``Pipeline.select_and_decode`` -- open, sample, decode; nothing when the
  token cache holds the video. Requests waiting for the model are decoded here meanwhile.
  One decode per video at a time (single flight, :meth:`ModelWorker.decode`): a request for a
  video another request is decoding waits until that one's tokens are in the cache.
  The readers' own threads share the cores with these threads (:func:`reader_workers`).
* Model stage (one thread, first come first served): ``Pipeline.prepare_from`` (encode, or
  load the cached tokens) and ``Pipeline.answer`` (compress, generate piece by piece).

The model is loaded once, by :meth:`ModelWorker.start`. Per-request overrides (sampler,
compressor, frames, visual-token budget) get a pipeline of their own around the same model
(a few are kept). At most ``max_queue`` requests are in the worker at once (decoding, waiting
or answering); :meth:`ModelWorker.admit` refuses the next with 503 and a ``Retry-After``
estimated from recent answer times. A cancelled request (its client went away) is dropped
from the queue if it has not started, and otherwise stops at the next stage or generated
piece. An error in one request is that request's error response; the worker goes on.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.serve.errors import ApiError

if TYPE_CHECKING:
    from videopipe.config import PipelineConfig
    from videopipe.decode.probe import ProbeResult
    from videopipe.models.contract import Turn, VideoLLM
    from videopipe.pipeline import Decoded, Pipeline
    from videopipe.prefix_cache import PrefixCache
    from videopipe.request import Request
    from videopipe.serve.settings import ServeSettings
    from videopipe.types import Answer

__all__ = ["Cancelled", "Job", "ModelWorker", "Ticket", "reader_workers"]

_KEEP_PIPELINES = 8


def reader_workers(decode_threads: int, cores: int) -> int:
    """Decoding threads each video reader may start so that ``decode_threads`` readers at once
    use the ``cores`` instead of each taking them all."""
    return max(1, int(cores) // max(1, int(decode_threads)))


class Cancelled(Exception):
    """The request was cancelled (its client disconnected)."""


@dataclass
class Job:
    """One question about one (checked, local) video, and how to answer it.

    overrides:  per-request pipeline options (``PipelineConfig`` fields)
    history:    the conversation's earlier turns (system, user, assistant)
    media:      vLLM's video options (``fps``, ``num_frames``, ``max_pixels``, ``min_pixels``),
                made pipeline options once the video is probed (``media_options.py``)
    on_text:    called in the model thread with each piece of the answer
    """

    video: Path
    question: str
    history: tuple[Turn, ...] = ()
    media: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    max_new_tokens: int | None = None
    temperature: float = 0.0
    on_text: Callable[[str], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    request: Request | None = field(default=None, repr=False)  # checked by the CPU stage
    _landed: Callable[[], None] | None = field(default=None, repr=False)

    def cancel(self) -> None:
        self.cancelled.set()

    def done(self) -> None:
        """This job's decode is over (its tokens are in the cache, or it failed, or the request
        ended): requests waiting to decode the same video go on. Any thread; once."""
        landed, self._landed = self._landed, None
        if landed is not None:
            landed()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def emit(self, piece: str) -> None:
        self.check()  # a cancelled request stops generating at its next piece
        if self.on_text is not None:
            self.on_text(piece)


class Ticket:
    """A place in the worker (see :meth:`ModelWorker.admit`); release it once."""

    def __init__(self, worker: ModelWorker) -> None:
        self._worker = worker
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._worker._in_flight -= 1


@dataclass
class Counters:
    """What the worker did (``/health`` shows it; the benchmark reads it)."""

    admitted: int = 0
    refused: int = 0
    answered: int = 0
    failed: int = 0
    cancelled: int = 0
    cache_hits: int = 0
    decode_waits: int = 0  # requests that waited for another's decode of the same video
    model_stage_runs: int = 0
    videos_decoded: int = 0  # CPU stages that decoded (the token cache did not hold the video)
    prefill_tokens: int = 0  # prompt tokens the language model prefilled
    cached_tokens: int = 0  # prompt tokens read from a stored KV cache instead (--kv-cache-mb)

    def to_dict(self) -> dict[str, int]:
        return dict(vars(self))


class ModelWorker:
    """See the module docstring. ``model``: an already built model (tests); default: the one
    ``config.model`` names, loaded by :meth:`start`. ``kv_cache_bytes``: the budget of the
    model's :class:`~videopipe.prefix_cache.PrefixCache` (KV caches of recent prompts that a
    follow-up continues from; 0: none)."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        model: VideoLLM | None = None,
        max_queue: int = 16,
        decode_threads: int = 2,
        kv_cache_bytes: int = 0,
    ) -> None:
        self.config = config
        self.kv_cache_bytes = int(kv_cache_bytes)
        self.max_queue = int(max_queue)
        self._model_obj = model
        self._base: Pipeline | None = None
        self._pipes: OrderedDict[tuple[tuple[str, Any], ...], Pipeline] = OrderedDict()
        self._pipes_lock = threading.Lock()
        self._cpu = ThreadPoolExecutor(decode_threads, thread_name_prefix="videopipe-decode")
        self._gpu = ThreadPoolExecutor(1, thread_name_prefix="videopipe-model")
        self._in_flight = 0
        self._answer_s: list[float] = []
        self._flights: dict[tuple[Any, ...], asyncio.Event] = {}  # see decode()
        self.counters = Counters()

    # -- life cycle --------------------------------------------------------------------------------
    @classmethod
    def for_settings(cls, settings: ServeSettings, *, model: VideoLLM | None = None) -> ModelWorker:
        """The worker a server (HTTP or MCP) runs with ``settings``: its pipeline options, queue,
        decode threads and KV-cache memory; ``model``: an already built model (tests)."""
        return cls(
            settings.config,
            model=model,
            max_queue=settings.max_queue,
            decode_threads=settings.decode_threads,
            kv_cache_bytes=settings.kv_cache_bytes,
        )

    def start(self) -> None:
        """Build the base pipeline and load the model (blocking; before the server listens).
        Starting a started worker does nothing."""
        from videopipe.pipeline import Pipeline

        if self._base is not None:
            return
        self._base = self._gpu.submit(lambda: Pipeline(self._model_obj, config=self.config)).result()
        model = self._base.model
        # the server keeps its prompts' KV caches in memory (--kv-cache-mb), not on disk as ``ask``
        model.prefix_cache = None
        if self.kv_cache_bytes > 0 and model.reuses_prefix:
            from videopipe.prefix_cache import PrefixCache

            model.prefix_cache = PrefixCache(self.kv_cache_bytes)

    @property
    def prefix_cache(self) -> PrefixCache | None:
        """The model's store of recent prompts' KV caches (None: off, or the model cannot)."""
        return None if self._base is None else self._base.model.prefix_cache

    def close(self) -> None:
        self._cpu.shutdown(wait=False, cancel_futures=True)
        self._gpu.shutdown(wait=False, cancel_futures=True)

    @property
    def model_id(self) -> str:
        return self._pipeline({}).model.model_id

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- admission ----------------------------------------------------------------------------------
    def admit(self) -> Ticket:
        """A place for one request, or a 503 with ``Retry-After`` when ``max_queue`` are in."""
        if self._in_flight >= self.max_queue:
            self.counters.refused += 1
            recent = self._answer_s[-20:]
            per = sum(recent) / len(recent) if recent else 1.0
            wait_s = max(1, math.ceil(per * self._in_flight))
            raise ApiError(
                503,
                f"the server is busy ({self._in_flight} requests in its queue of {self.max_queue}); "
                f"retry in {wait_s} s",
                code="queue_full",
                headers={"Retry-After": str(wait_s)},
            )
        self._in_flight += 1
        self.counters.admitted += 1
        return Ticket(self)

    # -- the two stages -----------------------------------------------------------------------------
    async def decode(self, job: Job) -> tuple[Pipeline, Decoded]:
        """The CPU stage of ``job`` (in a decode thread), one at a time per video and options
        (single flight): while another request decodes and encodes the same video, this one
        waits, then finds its tokens in the cache and decodes nothing. The caller calls
        ``job.done()`` when the request ends (the model stage also calls it once the tokens
        are saved)."""
        key = (tuple(sorted(job.overrides.items())), tuple(sorted(job.media.items())), str(job.video))
        while (flight := self._flights.get(key)) is not None:
            self.counters.decode_waits += 1
            await flight.wait()
        flight = self._flights[key] = asyncio.Event()
        loop = asyncio.get_running_loop()

        def land() -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]
            flight.set()

        job._landed = lambda: loop.call_soon_threadsafe(land)
        try:
            pipe, decoded = await self._run(self._cpu, self._cpu_stage, job)
        except BaseException:
            job.done()
            raise
        if decoded.cached or decoded.cache_key is None:  # nothing the cache could share
            job.done()
        return pipe, decoded

    async def answer(self, pipe: Pipeline, decoded: Decoded, job: Job) -> Answer:
        """The model stage of ``job`` (in the model thread, after the requests before it)."""
        t0 = time.perf_counter()
        try:
            answer = await self._run(self._gpu, self._model_stage, pipe, decoded, job)
        finally:
            job.done()
        self._answer_s.append(time.perf_counter() - t0)
        del self._answer_s[:-100]
        self.counters.answered += 1
        self.counters.cache_hits += int(answer.stats.cached)
        self.counters.cached_tokens += answer.stats.cached_tokens
        self.counters.prefill_tokens += answer.stats.prompt_tokens - answer.stats.cached_tokens
        return answer

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
        job: Job = args[-1]
        future = pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            job.cancel()  # a queued stage never starts (wrap_future cancels it); a running one stops
            future.cancel()
            self.counters.cancelled += 1
            raise
        except Cancelled:
            self.counters.cancelled += 1
            raise ApiError(499, "the request was cancelled", code="cancelled") from None
        except Exception:
            self.counters.failed += 1
            raise

    def _cpu_stage(self, job: Job) -> tuple[Pipeline, Decoded]:
        from videopipe.decode.probe import probe
        from videopipe.request import check_request

        job.check()
        # the one check of a request `videopipe ask` makes first, with its one-line messages
        request = job.request = check_request(
            job.video,
            job.question,
            max_new_tokens=job.max_new_tokens,
            temperature=job.temperature,
            history=job.history,
        )
        probed = probe(request.video)
        pipe = self._pipeline(job.overrides, job.media, probed)
        job.check()
        decoded = pipe.select_and_decode(request)
        self.counters.videos_decoded += int(not decoded.cached)
        return pipe, decoded

    def _model_stage(self, pipe: Pipeline, decoded: Decoded, job: Job) -> Answer:
        job.check()
        self.counters.model_stage_runs += 1
        prepared = pipe.prepare_from(decoded)
        job.done()  # the tokens are in the cache: requests waiting for this video go on
        job.check()
        if job.request is None:
            raise RuntimeError("the job's request is checked by ModelWorker.prepare, which runs first")
        return pipe.answer(prepared, job.request, on_text=job.emit)

    def _pipeline(
        self,
        overrides: Mapping[str, Any],
        media: Mapping[str, Any] | None = None,
        probed: ProbeResult | None = None,
    ) -> Pipeline:
        """The pipeline for ``overrides`` (and ``media`` options for the ``probed`` video)
        around the loaded model (built once, a few kept)."""
        from videopipe.pipeline import Pipeline
        from videopipe.serve.media_options import media_overrides

        if self._base is None:
            raise RuntimeError("ModelWorker.start() has not run")
        if media and probed is not None:
            size = int(overrides.get("size_px", self.config.size_px))
            overrides = {
                **overrides,
                **media_overrides(
                    media,
                    duration_s=probed.duration_s,
                    width=probed.width,
                    height=probed.height,
                    size_px=size,
                ),
            }
        key = tuple(sorted(overrides.items()))
        if not key:
            return self._base
        with self._pipes_lock:
            pipe = self._pipes.get(key)
            if pipe is not None:
                self._pipes.move_to_end(key)
                return pipe
        pipe = Pipeline(self._base.model, config=self.config.with_overrides(**dict(overrides)))
        with self._pipes_lock:
            self._pipes[key] = pipe
            while len(self._pipes) > _KEEP_PIPELINES:
                self._pipes.popitem(last=False)
        return pipe

    # -- other work for the CPU threads ---------------------------------------------------------------
    async def cpu(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in a decode thread (thumbnails, search)."""
        return await asyncio.wrap_future(self._cpu.submit(fn, *args, **kwargs))

    async def with_model(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(model, *args, **kwargs)`` in the model thread, after the requests before it
        (the long-video jobs that call the model: summaries, model-named chapters)."""
        model = self._pipeline({}).model
        return await asyncio.wrap_future(self._gpu.submit(fn, model, *args, **kwargs))
