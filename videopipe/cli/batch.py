"""``videopipe batch INPUT --out results.jsonl``: answer questions about many videos."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from videopipe.cli.common import pipeline_config
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
    workers: int = typer.Option(1, "--workers", "-j", help="CPU worker processes (or Ray model actors)."),
    model_workers: int | None = typer.Option(
        None, "--model-workers", help="Model worker processes fed by the CPU workers (default: one per GPU)."
    ),
    task_timeout_s: float | None = typer.Option(
        None, "--task-timeout-s", help="Stop a worker stuck on one video this long (local executor)."
    ),
    executor: str = typer.Option("local", "--executor", help="local or ray (see `videopipe list`)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (e.g. auto)."),
    parquet: bool = typer.Option(False, "--parquet", help="Also write the results as Parquet at the end."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Rerun the jobs whose record is an error."
    ),
    config: Path | None = typer.Option(None, "--config", help="Pipeline options from a TOML file."),
    model: str | None = typer.Option(None, "--model", help="Video-LLM (Hugging Face id or local dir)."),
    sampler: str | None = typer.Option(None, "--sampler", help="Frame sampler."),
    compressor: str | None = typer.Option(None, "--compressor", help="Visual-token compressor."),
    num_frames: int | None = typer.Option(None, "--num-frames", help="Frames per video."),
    max_visual_tokens: int | None = typer.Option(None, "--max-visual-tokens", help="Visual-token budget."),
    size: int | None = typer.Option(
        None, "--size", help="Shorter side of frames, pixels (one visual token of the model to 4096)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    dtype: str | None = typer.Option(None, "--dtype", help="auto, float32, bfloat16 or float16."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Answer length limit."),
    backend: str | None = typer.Option(None, "--backend", help="Decoder backend."),
    runner: str | None = typer.Option(
        None, "--runner", help="Custom model stage 'module:factory' instead of the pipeline (advanced)."
    ),
    runner_kwargs: str | None = typer.Option(None, "--runner-kwargs", help="JSON kwargs for --runner."),
    prepare: str | None = typer.Option(
        None, "--prepare", help="Custom prepare stage 'module:factory' (advanced; default: trivial)."
    ),
    prepare_kwargs: str | None = typer.Option(None, "--prepare-kwargs", help="JSON kwargs for --prepare."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Answer questions about every video of INPUT; one JSONL record per (video, question).

    Resumable (rerun the same command), fault-isolated (bad videos and crashed workers give
    error records). Exit code 0 when every record is ok, 1 when any failed, 130 if interrupted."""
    from videopipe.batch.inputs import load_jobs, read_questions
    from videopipe.batch.jobs import JobSpec
    from videopipe.batch.run import print_summary, run_batch

    qs = list(question) + (read_questions(questions) if questions else [])
    jobs = load_jobs(source, questions=qs, glob=glob)

    if runner:
        spec = JobSpec(
            factory=runner,
            kwargs=_kwargs(runner_kwargs, "--runner-kwargs"),
            prepare_factory=prepare,
            prepare_kwargs=_kwargs(prepare_kwargs, "--prepare-kwargs"),
        )
    else:
        if prepare:
            raise ConfigError("--prepare needs --runner (the pipeline brings its own stages)")
        cfg = pipeline_config(
            config,
            model=model,
            sampler=sampler,
            compressor=compressor,
            num_frames=num_frames,
            max_visual_tokens=max_visual_tokens,
            size_px=size,
            device=device,
            dtype=dtype,
            max_new_tokens=max_new_tokens,
            decode_backend=backend,
        )
        spec = JobSpec.for_pipeline(cfg)

    ex = make_executor(
        executor, workers=workers, model_workers=model_workers, address=address, task_timeout_s=task_timeout_s
    )

    summary = run_batch(
        jobs, spec, out=out, executor=ex, retry_failed=retry_failed, parquet=parquet, progress=progress
    )
    print_summary(summary)
    if summary.exit_code:
        raise typer.Exit(code=summary.exit_code)


def make_executor(
    executor: str,
    *,
    workers: int = 1,
    model_workers: int | None = None,
    address: str | None = None,
    task_timeout_s: float | None = None,
) -> object:
    """The executor for ``--executor`` (shared by ``batch`` and ``eval``): local model workers
    default to one per visible GPU (0 = CPU workers run the model too)."""
    from videopipe.registry import EXECUTORS

    if executor == "ray":
        return EXECUTORS.create("ray", address=address, workers=workers)
    if address:
        raise ConfigError("--address only applies to --executor ray")
    gpus: list[int] = []
    if model_workers is None:
        from videopipe.config import visible_gpu_count

        gpus = list(range(visible_gpu_count()))
        model_workers = len(gpus)
    return EXECUTORS.create(
        executor, workers=workers, model_workers=model_workers, gpus=gpus, task_timeout_s=task_timeout_s
    )
