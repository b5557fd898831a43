"""``videopipe ask VIDEO "question"``: answer a question about a video, with evidence timestamps."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from videopipe.cli.common import model_progress_bar, print_json, text_progress_bar
from videopipe.cli.options import PipelineFlags, VideoFile, pipeline_options

if TYPE_CHECKING:
    from videopipe.cli.common import ModelProgress
    from videopipe.pipeline import Pipeline
    from videopipe.request import Request
    from videopipe.types import Answer


@pipeline_options()
def ask(
    video: VideoFile,
    questions: list[str] = typer.Argument(
        ...,
        help="The question; several are answered in turn by one process (the model and the video's "
        "tokens are loaded once, so each further question costs about its answer).",
    ),
    json_out: bool = typer.Option(
        False, "--json", help="Print the whole Answer as JSON (a list of them for several questions)."
    ),
    progress: bool | None = typer.Option(
        None,
        "--progress/--no-progress",
        help="Progress bars with ETA on stderr for encoding, prefill and generation (default: on a terminal).",
    ),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Answer QUESTION about VIDEO and print the answer with its evidence timestamps.

    Several questions are answered in turn, each on its own, each after a line "Q<n>: ...".
    """
    from videopipe.decode.probe import probe
    from videopipe.pipeline import Pipeline
    from videopipe.request import check_request

    # bad input fails before a (possibly multi-GB) model is loaded: the request is checked once
    # (the layers below trust it), and a file that is not a video fails in a tenth of a second
    # (ffprobe), before any model file is read
    requests = [check_request(video, q) for q in questions]
    info = probe(requests[0].video)

    cfg = pipeline.config()
    # load_model=False: the geometry comes from the checkpoint's config files and the weights
    # load after the video is decoded, so a file that probes but cannot be decoded fails first too
    pipe = Pipeline(config=cfg, load_model=False)
    if progress is not False:  # before a run of more than a minute on the CPU: one line saying so
        from videopipe.cli.estimate import warn_if_long

        frames = info.nb_frames or int(info.duration_s * info.avg_fps) or None
        warn_if_long(cfg, video_frames=frames, tokens_cached=pipe.tokens_cached(requests[0].video))
    # the model's imports and weights load in the background while the video is decoded
    # (benchmarks/results/cold_start.md); an error there is raised when the model is needed
    pipe.preload()
    answers = []
    with model_progress_bar(progress) as bar:
        pipe.model_progress = bar
        for i, request in enumerate(requests):
            if len(requests) > 1 and not json_out:
                typer.echo(f"Q{i + 1}: {request.question}")
            answers.append(_answer_one(pipe, request, bar, video.name, progress, json_out))
    if json_out:
        print_json(answers[0].to_dict() if len(answers) == 1 else [a.to_dict() for a in answers])


def _answer_one(
    pipe: Pipeline,
    request: Request,
    bar: ModelProgress | None,
    name: str,
    progress: bool | None,
    json_out: bool,
) -> Answer:
    """Prepare and answer one request; without ``json_out`` the answer streams to stdout, then
    its evidence and a stats line."""
    if bar is not None:
        bar.restart()  # the streamed text of an earlier answer stopped it
    with text_progress_bar(name, quiet=progress is False) as text_bar:  # an hour's speech
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
        return answer
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
    return answer
