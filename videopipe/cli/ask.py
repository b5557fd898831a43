"""``videopipe ask VIDEO "question"``: answer a question about a video, with evidence timestamps."""

from __future__ import annotations

import sys

import typer

from videopipe.cli.common import model_progress_bar, print_json, text_progress_bar
from videopipe.cli.options import PipelineFlags, VideoFile, pipeline_options


@pipeline_options()
def ask(
    video: VideoFile,
    question: str = typer.Argument(..., help="The question."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole Answer as JSON."),
    progress: bool | None = typer.Option(
        None,
        "--progress/--no-progress",
        help="Progress bars with ETA on stderr for encoding, prefill and generation (default: on a terminal).",
    ),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Answer QUESTION about VIDEO and print the answer with its evidence timestamps."""
    from videopipe.decode.probe import probe
    from videopipe.pipeline import Pipeline
    from videopipe.request import check_request

    # bad input fails before a (possibly multi-GB) model is loaded: the request is checked once
    # (the layers below trust it), and a file that is not a video fails in a tenth of a second
    # (ffprobe), before any model file is read
    request = check_request(video, question)
    info = probe(request.video)

    cfg = pipeline.config()
    # load_model=False: the geometry comes from the checkpoint's config files and the weights
    # load after the video is decoded, so a file that probes but cannot be decoded fails first too
    pipe = Pipeline(config=cfg, load_model=False)
    if progress is not False:  # before a run of more than a minute on the CPU: one line saying so
        from videopipe.cli.estimate import warn_if_long

        frames = info.nb_frames or int(info.duration_s * info.avg_fps) or None
        warn_if_long(cfg, video_frames=frames, tokens_cached=pipe.tokens_cached(request.video))
    # the model's imports and weights load in the background while the video is decoded
    # (benchmarks/results/cold_start.md); an error there is raised when the model is needed
    pipe.preload()
    with model_progress_bar(progress) as bar:
        pipe.model_progress = bar
        with text_progress_bar(video.name, quiet=progress is False) as text_bar:  # an hour's speech
            pipe.text_progress = text_bar
            prepared = pipe.prepare(request)
        streamed = []

        def show(piece: str) -> None:  # the answer appears as it is generated
            if bar is not None:
                bar.stop()  # the streamed text is the progress from here on
            streamed.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()

        answer = pipe.answer(prepared, request, on_text=None if json_out else show)
    if json_out:
        print_json(answer.to_dict())
        return
    if streamed:
        typer.echo("")
    else:
        typer.echo(answer.text)
    if answer.evidence:
        spans = ", ".join(f"{h.start_s:.1f}-{h.end_s:.1f}s" for h in answer.evidence[:5])
        typer.echo(f"evidence: {spans}")
    s = answer.stats
    typer.echo(
        f"[{s.frames_selected} frames, {s.tokens_before} -> {s.tokens_after} visual tokens, "
        f"{sum(s.seconds.values()):.1f}s]"
    )
