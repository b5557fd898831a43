"""``videopipe eval``: multiple-choice long-video QA accuracy (Video-MME / MLVU style)."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import pipeline_config, print_json


def eval_cmd(
    dataset: Path = typer.Option(
        ..., "--dataset", help="JSONL of {video, question, options, answer}, or a published file."
    ),
    videos: Path = typer.Option(..., "--videos", help="Directory the items' video paths are relative to."),
    out: Path = typer.Option(
        Path("eval.jsonl"), "--out", "-o", help="Per-item records (JSONL); rerunning continues."
    ),
    fmt: str = typer.Option("auto", "--format", help="auto, jsonl, videomme or mlvu."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N items."),
    model: str | None = typer.Option(None, "--model", help="Video-LLM (hub id or local dir)."),
    sampler: str | None = typer.Option(None, "--sampler", help="Frame sampler."),
    compressor: str | None = typer.Option(None, "--compressor", help="Visual-token compressor."),
    num_frames: int | None = typer.Option(None, "--num-frames", "-n", min=1, help="Frames per video."),
    max_visual_tokens: int | None = typer.Option(
        None, "--max-visual-tokens", min=1, help="Visual-token budget."
    ),
    size: int | None = typer.Option(
        None, "--size", help="Shorter side of frames, pixels (one visual token of the model to 4096)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    dtype: str | None = typer.Option(None, "--dtype", help="auto, float32, bfloat16 or float16."),
    max_new_tokens: int | None = typer.Option(16, "--max-new-tokens", min=1, help="Answer length limit."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="CPU worker processes."),
    executor: str = typer.Option("local", "--executor", help="local or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address."),
    config: Path | None = typer.Option(None, "--config", help="Pipeline options from a TOML file."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Evaluate a model on a multiple-choice video QA set: accuracy overall, per category and
    per duration, mean visual tokens and seconds per item. Resumable and fault-isolated."""
    from videopipe.batch.jobs import JobSpec
    from videopipe.cli.batch import make_executor
    from videopipe.eval.dataset import load_items
    from videopipe.eval.report import format_table
    from videopipe.eval.run import evaluate, summary_path

    items = load_items(dataset, fmt=fmt)[:limit]
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
    )
    ex = make_executor(executor, workers=workers, address=address)
    summary, batch = evaluate(
        items, videos, spec=JobSpec.for_pipeline(cfg), executor=ex, out=out, progress=progress
    )
    if json_out:
        print_json(summary)
    else:
        typer.echo(format_table(summary))
        typer.echo(f"records: {out}; summary: {summary_path(out)}")
    if batch.interrupted:
        raise typer.Exit(code=130)
    if summary["errors"]:
        raise typer.Exit(code=1)
