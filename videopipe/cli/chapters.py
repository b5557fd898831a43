"""``videopipe chapters VIDEO``: chapters from topic shifts in the speech, slide changes and scene
cuts, as YouTube lines (stdout), WebVTT, ffmetadata or JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import printed_json, text_progress_bar, video_llm
from videopipe.cli.options import JobAsrModel, JobText, Quiet, VideoFile, finite_float
from videopipe.cli.outputs import check_output_file, write_output


def chapters(
    video: VideoFile,
    min_len: float = typer.Option(
        30.0, "--min-len", callback=finite_float, help="Shortest chapter, seconds."
    ),
    max_len: float = typer.Option(
        900.0, "--max-len", callback=finite_float, help="Longest chapter, seconds."
    ),
    titles: str = typer.Option(
        "extract", "--titles", help="extract (the central sentence, offline, no model) or model (--model)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Video LLM for --titles model (see `videopipe list`)."
    ),
    text: JobText = None,
    asr_model: JobAsrModel = None,
    cuts: bool = typer.Option(True, "--cuts/--no-cuts", help="Use scene cuts."),
    vtt: Path | None = typer.Option(None, "--vtt", help="Write WebVTT chapters to this file ('-': stdout)."),
    ffmetadata: Path | None = typer.Option(
        None, "--ffmetadata", help="Write ffmetadata to this file ('-': stdout), for ffmpeg -map_metadata."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the chapters as JSON."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Transcribe again even when cached."),
    quiet: Quiet = False,
) -> None:
    """Split VIDEO into chapters; print them as YouTube description lines (00:00 Title)."""
    from videopipe.chapters.formats import to_ffmetadata, to_vtt, to_youtube
    from videopipe.chapters.job import find_chapters
    from videopipe.decode.probe import probe
    from videopipe.errors import ConfigError
    from videopipe.request import check_video

    if sum(x is not None for x in (vtt, ffmetadata, json_out or None)) > 1:
        raise ConfigError("choose one of --vtt, --ffmetadata and --json")
    check_video(video)
    probe(video)
    for dest, option in ((vtt, "--vtt"), (ffmetadata, "--ffmetadata")):
        if dest is not None and str(dest) != "-":
            check_output_file(dest, option)
    llm = _model(model, titles)
    with text_progress_bar(video.name, quiet=quiet) as progress:
        result = find_chapters(
            video,
            text=text,
            asr_model=asr_model,
            min_len_s=min_len,
            max_len_s=max_len,
            titles=titles,
            model=llm,
            cuts=cuts,
            cache=not no_cache,
            progress=progress,
        )
    if printed_json(result, json_out):
        return
    if vtt is not None:
        _emit(vtt, to_vtt(result), "--vtt")
    elif ffmetadata is not None:
        _emit(ffmetadata, to_ffmetadata(result), "--ffmetadata")
    else:
        typer.echo(to_youtube(result), nl=False)


def _model(name: str | None, titles: str) -> object | None:
    if titles != "model":
        return None
    from videopipe.errors import ConfigError

    if name is None:
        raise ConfigError("--titles model needs --model NAME (a video LLM); --titles extract needs none")
    return video_llm(name)


def _emit(dest: Path, text: str, option: str) -> None:
    if str(dest) == "-":
        typer.echo(text, nl=False)
        return
    write_output(dest, text, option)
