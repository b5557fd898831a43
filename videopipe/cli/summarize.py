"""``videopipe summarize VIDEO --model NAME``: a summary that cites the spans it comes from."""

from __future__ import annotations

import typer

from videopipe.cli.common import printed_json, video_llm
from videopipe.cli.options import JobAsrModel, JobText, Quiet, VideoFile


def summarize(
    video: VideoFile,
    model: str = typer.Option(..., "--model", help="Video LLM (see `videopipe list`)."),
    chunk_s: float = typer.Option(30.0, "--chunk-s", help="Longest chunk, seconds."),
    align: str = typer.Option("cuts", "--align", help="Chunks aligned to: chapters, cuts or none."),
    frames: int = typer.Option(4, "--frames", help="Frames per chunk."),
    context_tokens: int = typer.Option(4096, "--context-tokens", help="The model's context, tokens."),
    text: JobText = None,
    asr_model: JobAsrModel = None,
    json_out: bool = typer.Option(False, "--json", help="Print the summary, sections and chunks as JSON."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Describe every chunk again."),
    quiet: Quiet = False,
) -> None:
    """Summarise VIDEO: every chunk described by the model from its frames and lines (cached:
    a killed run resumes), then reduced to one summary citing [start-end] spans."""
    from videopipe.decode.probe import probe
    from videopipe.errors import ConfigError
    from videopipe.request import check_video
    from videopipe.summarize.job import ALIGN_MODES
    from videopipe.summarize.job import summarize as run

    check_video(video)
    probe(video)
    if align not in ALIGN_MODES:
        raise ConfigError(f"--align {align!r} is not one of {', '.join(ALIGN_MODES)}")
    llm = video_llm(model)
    with _bar(quiet) as progress:
        result = run(
            video,
            model=llm,
            text=text,
            asr_model=asr_model,
            chunk_s=chunk_s,
            align=align,
            frames=frames,
            context_tokens=context_tokens,
            cache=not no_cache,
            progress=progress,
        )
    if printed_json(result, json_out):
        return
    typer.echo(result.text)
    for s in result.sections:
        typer.echo(f"{s.label} {s.text}")


def _bar(quiet: bool):  # noqa: ANN202
    """A stderr progress bar over chunks (None when quiet or stderr is not a terminal)."""
    import contextlib
    import sys

    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar():  # noqa: ANN202
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("describing chunks"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as p:
            task = p.add_task("chunks", total=None)
            yield lambda done, total: p.update(task, completed=done, total=total)

    return bar()
