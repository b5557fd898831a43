"""``videopipe eval``: multiple-choice long-video QA accuracy (Video-MME / MLVU style)."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import print_json
from videopipe.cli.options import ExecutorFlags, PipelineFlags, Progress, executor_options, pipeline_options


@pipeline_options()
@executor_options
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
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    progress: Progress = True,
    *,
    pipeline: PipelineFlags,
    executor: ExecutorFlags,
) -> None:
    """Evaluate a model on a multiple-choice video QA set: accuracy overall, per category and
    per duration, mean visual tokens and seconds per item. Resumable and fault-isolated."""
    from videopipe.batch.jobs import JobSpec
    from videopipe.eval.dataset import load_items
    from videopipe.eval.report import format_table
    from videopipe.eval.run import evaluate, summary_path

    items = load_items(dataset, fmt=fmt)[:limit]
    cfg = pipeline.config()
    ex = executor.make()
    summary, batch = evaluate(
        items, videos, spec=JobSpec.for_pipeline(cfg), executor=ex, out=out, progress=progress
    )
    if json_out:
        print_json(summary)
    else:
        typer.echo(format_table(summary))
        typer.echo(f"records: {out}; summary: {summary_path(out)}")
    if batch.interrupted:
        raise KeyboardInterrupt  # exit 130 with the `videopipe: interrupted` line
    if summary["errors"]:
        raise typer.Exit(code=1)
