"""The long-video jobs as batch runners: ``videopipe batch --job chapters|locate|summarize``.

:func:`video_job_spec` is the :class:`~videopipe.batch.jobs.JobSpec` of one job: its runner
(:func:`video_job_runner`, built once per worker: the sentence embedder, and the model for
``summarize``) does all of a video's work itself and returns the job's ``to_dict()`` as a
:class:`~videopipe.batch.jobs.Payload`, so each record's ``answer`` is what ``videopipe
chapters --json`` (``locate``, ``summarize``) prints. ``chapters`` and ``summarize`` make one
record per video (its ``question`` is the job's name); ``locate`` one per (video, query), the
queries given as ``--question``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from videopipe.batch.jobs import JobSpec, Payload
from videopipe.errors import ConfigError

if TYPE_CHECKING:
    from videopipe.batch.jobs import Runner

__all__ = ["VIDEO_JOBS", "video_job_runner", "video_job_spec"]

#: job name -> the options its function takes from ``--job-options`` (besides the video and query)
VIDEO_JOBS: dict[str, tuple[str, ...]] = {
    "chapters": ("min_len_s", "max_len_s", "titles", "cuts"),
    "locate": ("top",),
    "summarize": ("chunk_s", "align", "frames", "size_px", "context_tokens"),
}


def video_job_spec(job: str, config: Any, options: Mapping[str, Any] | None = None) -> JobSpec:
    """The spec of ``job`` run with the pipeline ``config`` (its text sources, ASR model, cache
    and, for ``summarize`` or ``titles: model``, its model) and the job's ``options``."""
    if job not in VIDEO_JOBS:
        raise ConfigError(f"--job {job!r} is not one of ask, {', '.join(VIDEO_JOBS)}")
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(VIDEO_JOBS[job]))
    if unknown:
        raise ConfigError(
            f"--job-options: {job} takes no {', '.join(unknown)} (it takes {', '.join(VIDEO_JOBS[job])})"
        )
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return JobSpec(
        factory="videopipe.batch.video_jobs:video_job_runner",
        kwargs={"job": job, "config": cfg, "options": opts},
        whole_video=True,
    )


def video_job_runner(*, job: str, config: Mapping[str, Any], options: Mapping[str, Any]) -> Runner:
    """The runner of :func:`video_job_spec`, built once per worker."""
    from videopipe.config import PipelineConfig
    from videopipe.embedders.text import TextEmbedder

    cfg = PipelineConfig(**dict(config))
    needs_model = job == "summarize" or options.get("titles") == "model"
    model = _model(cfg) if needs_model else None
    embedder = TextEmbedder() if job != "summarize" else None
    common = {
        "text": cfg.text,
        "asr_model": cfg.asr_model,
        "cache": cfg.cache_tokens,
        "cache_dir": cfg.resolved_cache_dir(),
    }

    def run(prepared: Any, question: str, /) -> Payload:
        video = str(prepared)
        if job == "chapters":
            from videopipe.chapters.job import find_chapters

            found: Any = find_chapters(video, model=model, embedder=embedder, **common, **options)
        elif job == "locate":
            from videopipe.locate.job import locate

            found = locate(video, question, embedder=embedder, **common, **options)
        else:
            from videopipe.summarize.job import summarize

            assert model is not None
            found = summarize(video, model=model, max_new_tokens=cfg.max_new_tokens, **common, **options)
        return Payload(found.to_dict())

    return run


def _model(cfg: Any) -> Any:
    from videopipe.pipeline import Pipeline

    return Pipeline.from_config(cfg).model
