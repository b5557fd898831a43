"""``videopipe batch INPUT --out results.jsonl``: answer questions about many videos."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from videopipe.cli.options import ExecutorFlags, PipelineFlags, Progress, executor_options, pipeline_options
from videopipe.errors import ConfigError


def _kwargs(text: str | None, option: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{option} must be a JSON object, got {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object like '{{\"key\": 1}}', got {text!r}")
    return value


@pipeline_options()
@executor_options
def batch(
    source: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help="A folder (searched recursively), a list file, a .jsonl/.csv manifest, or one video.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Results file (JSONL); rerunning continues it."),
    question: list[str] = typer.Option(
        [], "--question", "-q", help="Question for every video without its own (repeatable)."
    ),
    questions: Path | None = typer.Option(None, "--questions", help="File of questions, one per line."),
    glob: str | None = typer.Option(None, "--glob", help='File-name pattern in a folder, e.g. "*.mp4".'),
    parquet: bool = typer.Option(False, "--parquet", help="Also write the results as Parquet at the end."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Rerun the jobs whose record is an error."
    ),
    runner: str | None = typer.Option(
        None, "--runner", help="Custom model stage 'module:factory' instead of the pipeline (advanced)."
    ),
    runner_kwargs: str | None = typer.Option(None, "--runner-kwargs", help="JSON kwargs for --runner."),
    prepare: str | None = typer.Option(
        None, "--prepare", help="Custom prepare stage 'module:factory' (advanced; default: trivial)."
    ),
    prepare_kwargs: str | None = typer.Option(None, "--prepare-kwargs", help="JSON kwargs for --prepare."),
    job: str = typer.Option(
        "ask",
        "--job",
        help="ask (the questions), chapters or summarize (one record per video), locate (--question: the query).",
    ),
    job_options: str | None = typer.Option(
        None,
        "--job-options",
        help="JSON options of --job, e.g. '{\"min_len_s\": 20}' (see docs/chapters.md).",
    ),
    progress: Progress = True,
    *,
    pipeline: PipelineFlags,
    executor: ExecutorFlags,
) -> None:
    """Answer questions about every video of INPUT; one JSONL record per (video, question).
    With --job chapters / summarize / locate, the record's answer is that job's JSON.

    Resumable (rerun the same command), fault-isolated (bad videos and crashed workers give
    error records). Exit code 0 when every record is ok, 1 when any failed, 130 if interrupted."""
    from videopipe.batch.inputs import load_jobs, read_questions
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.run import print_summary, run_batch
    from videopipe.batch.video_jobs import VIDEO_JOBS, video_job_spec

    if job != "ask" and job not in VIDEO_JOBS:
        raise ConfigError(f"--job {job!r} is not one of ask, {', '.join(VIDEO_JOBS)}")
    qs = list(question) + (read_questions(questions) if questions else [])
    if job in ("chapters", "summarize"):
        if qs:
            raise ConfigError(f"--job {job} takes no --question (one record per video)")
        qs = [job]
    elif job_options and job == "ask":
        raise ConfigError("--job-options needs --job chapters, locate or summarize")
    jobs = load_jobs(source, questions=qs, glob=glob)

    if job != "ask":
        if runner or prepare:
            raise ConfigError(f"--job {job} brings its own runner; --runner and --prepare are for --job ask")
        spec = video_job_spec(job, pipeline.config(), _kwargs(job_options, "--job-options"))
    elif runner:
        spec = JobSpec(
            factory=runner,
            kwargs=_kwargs(runner_kwargs, "--runner-kwargs"),
            prepare_factory=prepare,
            prepare_kwargs=_kwargs(prepare_kwargs, "--prepare-kwargs"),
        )
    else:
        if prepare:
            raise ConfigError("--prepare needs --runner (the pipeline brings its own stages)")
        cfg = pipeline.config()
        spec = JobSpec.for_pipeline(cfg)

    ex = executor.make()

    summary = run_batch(
        jobs, spec, out=out, executor=ex, retry_failed=retry_failed, parquet=parquet, progress=progress
    )
    print_summary(summary)
    if summary.interrupted:
        raise KeyboardInterrupt  # exit 130 with the `videopipe: interrupted` line
    if summary.exit_code:
        raise typer.Exit(code=summary.exit_code)
