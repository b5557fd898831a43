"""The job protocol between the batch driver and whatever answers questions.

A batch runs *two stages* per video, possibly in different processes or machines:

``prepare(video) -> prepared``
    CPU work that depends only on the video (decode, sample, ...). Runs on CPU workers, ahead
    of the model, so that decoding the next videos overlaps with model work on the current
    one. ``prepared`` must be picklable (it crosses a process boundary). Default: trivial,
    ``prepared`` is the video path itself.
``answer(prepared, question) -> Answer``
    The model work, once per question of the video. Runs on model workers (one per GPU).

The production spec (:meth:`JobSpec.for_pipeline`) prepares with the pipeline's CPU stage
(``Pipeline.select_and_decode``: open, sample, decode) and encodes + answers in the model
stage, unless the selection depends on the question.

Both stages are built *inside* the worker that uses them, once per worker, from a picklable
:class:`JobSpec` that names factories as ``"module:attr"`` strings plus keyword arguments.
With the default (trivial) prepare stage the runner is simply ``runner(video, question) ->
Answer``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from videopipe.errors import ConfigError
from videopipe.registry import import_target

if TYPE_CHECKING:  # the driver never needs torch; workers import it with their runner
    from videopipe.types import Answer

__all__ = [
    "Job",
    "Payload",
    "VideoTask",
    "JobSpec",
    "Runner",
    "Preparer",
    "job_id",
    "trivial_preparer",
    "PipelineRunner",
    "pipeline_runner",
    "pipeline_preparer",
]


@runtime_checkable
class Runner(Protocol):
    """The model stage: ``runner(prepared, question) -> Answer`` (``prepared`` is the video
    path when the prepare stage is the default)."""

    def __call__(self, prepared: Any, question: str, /) -> Answer | Payload: ...


Preparer = Callable[[str], Any]


def job_id(video: str, question: str) -> str:
    """Stable record id of (video, question): the same inputs give the same id in every run."""
    return hashlib.sha1(f"{video}\0{question}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class Payload:
    """A runner's result that is not an :class:`Answer`, for a driver that consumes the value
    itself instead of writing records (``videopipe index``: one video's clips, committed by the
    index writer). The record's ``answer`` holds ``value`` as it is."""

    value: Any


@dataclass(frozen=True)
class Job:
    """One output record to produce: a question about a video."""

    id: str
    video: str
    question: str


@dataclass(frozen=True)
class VideoTask:
    """The unit of work of an executor: one video and the jobs (questions) asked about it.
    The video is prepared once and every question answered on the prepared value."""

    video: str
    jobs: tuple[Job, ...]

    def __post_init__(self) -> None:
        if not self.jobs:
            raise ValueError(f"VideoTask for {self.video} has no jobs")
        if any(j.video != self.video for j in self.jobs):
            raise ValueError(f"VideoTask for {self.video} holds a job about another video")

    def without(self, done_ids: set[str]) -> VideoTask | None:
        """This task minus the jobs already done (None when nothing is left)."""
        left = tuple(j for j in self.jobs if j.id not in done_ids)
        return VideoTask(self.video, left) if left else None


def trivial_preparer() -> Preparer:
    """The default prepare stage: the prepared value is the video path."""
    return _identity


def _identity(video: str) -> str:
    return video


@dataclass(frozen=True)
class JobSpec:
    """How a worker builds its stages. Picklable: only strings and plain kwargs.

    factory:          ``"module:attr"``; ``factory(**kwargs)`` returns the :class:`Runner`.
    prepare_factory:  ``"module:attr"``; ``prepare_factory(**prepare_kwargs)`` returns the
                      ``prepare(video) -> prepared`` callable. None: the trivial prepare stage.
    preload:          modules the local executor's fork server imports once, before forking
                      workers (decoder backends, transformers, ...), so that no worker pays
                      for those imports itself. Only the first pool of a process sets them.
    whole_video:      the runner does all of a video's work itself (``videopipe index``): Ray
                      sends the path straight to its actors, with no prepare tasks, and every
                      CPU holds an actor. False (``batch``): prepare tasks feed the model actors.
    """

    factory: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    prepare_factory: str | None = None
    prepare_kwargs: Mapping[str, Any] = field(default_factory=dict)
    preload: tuple[str, ...] = ()
    whole_video: bool = False

    def __post_init__(self) -> None:
        for name in ("factory", "prepare_factory"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or ":" not in v):
                raise ConfigError(f"JobSpec.{name} {v!r} must be a 'package.module:function' string")
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        object.__setattr__(self, "prepare_kwargs", dict(self.prepare_kwargs))
        object.__setattr__(self, "preload", tuple(self.preload))

    def build_runner(self) -> Runner:
        return import_target(self.factory, what="runner factory")(**self.kwargs)

    def build_preparer(self) -> Preparer:
        if self.prepare_factory is None:
            return trivial_preparer()
        return import_target(self.prepare_factory, what="prepare factory")(**self.prepare_kwargs)

    @classmethod
    def for_pipeline(cls, config: Any) -> JobSpec:
        """The production spec: a :class:`videopipe.pipeline.Pipeline` built from ``config``
        (a :class:`~videopipe.config.PipelineConfig` or its dict) in every worker.

        When the selection does not depend on the question (no query-aware sampler, no
        retrieval) the prepare stage is the pipeline's CPU stage,
        ``Pipeline.select_and_decode`` (in a pipeline that never loads the model), and the
        runner encodes and answers (``Pipeline.prepare_from`` + ``Pipeline.answer``): with
        separate prepare and model workers, decoding the next videos overlaps with model
        work. Otherwise the prepare stage is trivial and every question is a full
        ``Pipeline.ask``."""
        from videopipe.config import PipelineConfig
        from videopipe.pipeline import config_query_dependent

        pc = config if isinstance(config, PipelineConfig) else PipelineConfig(**dict(config))
        cfg = pc.to_dict()
        staged = not config_query_dependent(pc)
        return cls(
            factory="videopipe.batch.jobs:pipeline_runner",
            kwargs={"config": cfg},
            prepare_factory="videopipe.batch.jobs:pipeline_preparer" if staged else None,
            prepare_kwargs={"config": cfg} if staged else {},
            preload=("videopipe.pipeline", "videopipe.decode.reader"),
        )


class PipelineRunner:
    """Adapts a :class:`videopipe.pipeline.Pipeline` to the runner protocol.

    ``prepared`` is a ``Decoded`` video from the pipeline's prepare stage
    (:func:`pipeline_preparer`) or, with the trivial prepare stage, the video path. The runner
    encodes a video once (``pipeline.prepare_from`` / ``pipeline.prepare``) and answers every
    question of that video from the same prepared value (``pipeline.answer``) — the executor
    sends a video's questions to one worker in a row. When the selection depends on the
    question (query-aware sampler, retrieval) every question is a full ``pipeline.ask``."""

    def __init__(self, pipeline: Any, *, reuse_prepared: bool) -> None:
        self.pipeline = pipeline
        self.reuse_prepared = reuse_prepared
        self._last: tuple[str, Any] | None = None

    def __call__(self, prepared: Any, question: str, /) -> Answer:
        from videopipe.pipeline import Decoded

        if isinstance(prepared, Decoded):
            return self.pipeline.answer(self._prepared(prepared.video, prepared), question)
        if not isinstance(prepared, str):  # a Prepared value from a custom prepare stage
            return self.pipeline.answer(prepared, question)
        if not self.reuse_prepared:
            return self.pipeline.ask(prepared, question)
        return self.pipeline.answer(self._prepared(prepared, prepared), question)

    def _prepared(self, video: str, value: Any) -> Any:
        """The encoded video, computed once per video (from a ``Decoded`` or a path)."""
        if self._last is None or self._last[0] != video:
            self._last = None  # free the previous video before encoding the next
            done = (
                self.pipeline.prepare(value) if isinstance(value, str) else self.pipeline.prepare_from(value)
            )
            self._last = (video, done)
        return self._last[1]


def pipeline_runner(*, config: Mapping[str, Any]) -> Runner:
    """Production factory: build the pipeline (and load the model) once per model worker.

    Imported lazily: ``videopipe.pipeline`` pulls in torch and the model adapters."""
    from videopipe.config import PipelineConfig

    cfg = PipelineConfig(**dict(config))
    try:
        from videopipe.pipeline import Pipeline  # type: ignore[import-not-found]
    except ImportError as e:
        raise ConfigError(
            f"videopipe.pipeline is not available in this installation ({e}); "
            "pass a custom runner with --runner module:factory"
        ) from e
    pipe = Pipeline.from_config(cfg)
    return PipelineRunner(pipe, reuse_prepared=not pipe.query_dependent)


def pipeline_preparer(*, config: Mapping[str, Any]) -> Preparer:
    """Production prepare stage: the pipeline's CPU stage, ``Pipeline.select_and_decode``,
    in a pipeline that reads the model's geometry from its config files and never loads the
    weights, and decodes on the CPU (no CUDA context in decode workers; GPUs are the model
    workers'). The ``Decoded`` value it returns is picklable (host numpy frames)."""
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    pipe = Pipeline.from_config(PipelineConfig(**dict(config)), load_model=False, decode_device="cpu")
    if pipe.query_dependent:
        raise ConfigError(
            f"sampler {pipe.sampler_name!r} / retrieval chooses frames per question, so videos cannot be "
            "decoded ahead of the questions; use JobSpec.for_pipeline, which asks per question for it"
        )
    return pipe.select_and_decode
