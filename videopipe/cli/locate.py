"""``videopipe locate VIDEO "query"``: the spans where the query happens, best first."""

from __future__ import annotations

import typer

from videopipe.cli.common import printed_json, text_progress_bar
from videopipe.cli.options import JobAsrModel, JobText, Quiet, VideoFile


def locate(
    video: VideoFile,
    query: str = typer.Argument(..., help='What to find, e.g. "the part about taxes".'),
    top: int = typer.Option(5, "--top", "-k", help="How many spans."),
    text: JobText = None,
    asr_model: JobAsrModel = None,
    json_out: bool = typer.Option(False, "--json", help="Print the spans as JSON."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Transcribe again even when cached."),
    quiet: Quiet = False,
) -> None:
    """Find where QUERY happens in VIDEO: one line per span (start-end, score, the best line)."""
    from videopipe.locate.job import check_query
    from videopipe.locate.job import locate as run
    from videopipe.locate.search import LocateConfig
    from videopipe.request import check_video

    check_video(video)
    check_query(query, str(video))
    LocateConfig(top=top)  # a bad --top fails before the transcript is read
    with text_progress_bar(video.name, quiet=quiet) as progress:
        result = run(
            video, query, text=text, asr_model=asr_model, top=top, cache=not no_cache, progress=progress
        )
    if printed_json(result, json_out):
        return
    for s in result.spans:
        best = s.evidence[0].text if s.evidence else ""
        typer.echo(f"{s.start_s:.1f}-{s.end_s:.1f}s  {s.score:.3f}  {best}")
