"""``videopipe index PATH... --index DIR``: add videos to a retrieval index (incremental, resumable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from videopipe.cli.common import STATE, print_json
from videopipe.cli.options import (
    Address,
    ExecutorName,
    IndexAsrModel,
    IndexEmbedder,
    IndexEmbedderModel,
    IndexSpeechWithSubtitles,
    IndexText,
    IndexWorkers,
    Quiet,
    finite_float,
)

if TYPE_CHECKING:
    from videopipe.batch.run import Executor
    from videopipe.retrieval.index_report import IndexReport


def index(
    paths: list[Path] = typer.Argument(..., help="Video files and/or folders (searched recursively)."),
    index_dir: Path = typer.Option(..., "--index", help="Index directory (created if new)."),
    embedder: IndexEmbedder = None,
    embedder_model: IndexEmbedderModel = None,
    segment: str | None = typer.Option(
        None, "--segment", help="fixed (windows) or scenes (one clip per shot); new index: fixed."
    ),
    window_s: float | None = typer.Option(
        None,
        "--window-s",
        callback=finite_float,
        help="Clip length in seconds (new index: 20; scenes: longest clip, 60).",
    ),
    overlap_s: float | None = typer.Option(
        None, "--overlap-s", callback=finite_float, help="Clip overlap in seconds (new index: 5)."
    ),
    frames_per_clip: int | None = typer.Option(
        None, "--frames-per-clip", help="Frames averaged per clip by image embedders (new index: 4)."
    ),
    text: IndexText = None,
    asr_model: IndexAsrModel = None,
    speech_with_subtitles: IndexSpeechWithSubtitles = None,
    captions: str | None = typer.Option(
        None,
        "--captions",
        help="Describe every clip with this video LLM (hub id, directory or `videopipe list` name) and "
        "index the descriptions with the clip's text (one generation per clip).",
    ),
    glob: str | None = typer.Option(
        None, "--glob", help="File pattern inside folders (default: video suffixes)."
    ),
    index_type: str = typer.Option(
        "auto",
        "--index-type",
        help="auto (chosen by --target-recall, measured), flat, ivf, ivf_sq8, ivf_sq8_refine or hnsw.",
    ),
    target_recall: float = typer.Option(
        0.95,
        "--target-recall",
        callback=finite_float,
        help="recall@10 against exact search the FAISS index must reach, measured at build time on a "
        "sample of the indexed vectors.",
    ),
    commit_every: int = typer.Option(8, "--commit-every", min=1, help="Commit progress every N videos."),
    workers: IndexWorkers = None,
    executor_name: ExecutorName = "local",
    address: Address = None,
    json_out: bool = typer.Option(
        False, "--json", help="Print the run's report as JSON (counts, seconds per stage, throughput)."
    ),
    quiet: Quiet = False,
) -> None:
    """Index the clips of every video under PATHS; only new or changed files are embedded.

    A killed run resumes where it stopped when run again; deleted files under PATHS are dropped.
    A damaged index folder is repaired: lost clips are re-embedded, intact ones kept. With
    --workers N (or --executor ray) videos are indexed in parallel and written by this process."""
    from videopipe.retrieval.faiss_index import INDEX_TYPES, AutoConfig
    from videopipe.retrieval.indexer import IndexOptions, index_paths

    if index_type not in ("auto", *INDEX_TYPES):
        from videopipe.errors import ConfigError

        raise ConfigError(f"--index-type {index_type!r} is not one of auto, {', '.join(INDEX_TYPES)}")
    options = IndexOptions(
        embedder=embedder,
        embedder_options={"model_id": embedder_model} if embedder_model else None,
        segmentation=segment,
        window_s=window_s,
        overlap_s=overlap_s,
        frames_per_clip=frames_per_clip,
        text=text,
        asr_model=asr_model,
        speech_with_subtitles=speech_with_subtitles,
        captioner=_captioner(captions),
    )
    kwargs = dict(
        glob=glob,
        index_type=index_type,
        index_auto=AutoConfig(target_recall=target_recall),
        commit_every=commit_every,
        executor=_executor(executor_name, workers, address),
    )
    if quiet:
        report = index_paths(paths, index_dir, options, **kwargs)
    else:
        from videopipe.cli.index_progress import index_progress

        with index_progress() as (progress, text_progress):
            report = index_paths(
                paths, index_dir, options, progress=progress, text_progress=text_progress, **kwargs
            )
    if json_out:
        print_json(report.to_dict())
    else:
        repaired = f", repaired {len(report.repaired)} damaged file(s)" if report.repaired else ""
        typer.echo(
            f"{report.index_dir}: {report.videos} videos ({report.embedded} embedded, {report.reused} reused, "
            f"{report.touched + report.unchanged} unchanged, {report.removed} removed, "
            f"{len(report.failed)} failed{repaired}); {report.total_clips} clips, {report.index_kind} index"
            f"{_measured(report.index)}, version {report.version}{_rate(report)}"
        )
        for line in report.repaired:
            typer.echo(f"repaired: {line}")
        for line in report.notes:
            typer.echo(f"note: {line}", err=True)
        if report.without_clips:
            typer.echo(
                f"{len(report.without_clips)} video(s) gave no clips (no subtitles, speech or screen text for a text embedder?)"
            )
        for msg in report.failed.values():
            typer.echo(f"failed: {msg}", err=True)
    if STATE.debug:  # programming errors surface with --debug, without aborting the run
        for tb in report.tracebacks.values():
            typer.echo(tb, err=True, nl=False)
    if report.failed:
        raise typer.Exit(1)


def _executor(
    name: str, workers: int | None, address: str | None
) -> Executor | Callable[[int], Executor | None] | None:
    """The executor of ``--executor``/``--workers``/``--address``; None: this process (local,
    one worker). Without ``--workers``, local workers are chosen by the number of videos to
    embed (:func:`~videopipe.retrieval.parallel.auto_workers`)."""
    from videopipe.batch.run import make_executor

    if name == "local" and address is None:
        if workers is None:
            from videopipe.retrieval.parallel import auto_workers

            return lambda videos: _executor(name, auto_workers(videos), address)  # type: ignore[return-value]
        if workers == 1:
            return None
    return make_executor(name, workers=workers or 1, address=address)


def _rate(report: IndexReport) -> str:
    """``; 0.52 h of media in 63 s (29.6 h/h, 2 workers)`` when the run embedded anything."""
    if report.media_s <= 0:
        return ""
    workers = f", {report.workers} workers" if report.workers > 1 else ""
    return (
        f"; {report.media_s / 3600:.2f} h of media in {report.seconds:.0f} s "
        f"({report.media_hours_per_hour:.1f} h/h{workers})"
    )


def _measured(info: dict) -> str:
    """`` (recall@10 0.97, 0.31 ms/query)`` when the index build measured them."""
    if info.get("recall_at_10") is None or info.get("ms_per_query") is None:
        return ""
    return f" (recall@10 {info['recall_at_10']:.3f}, {info['ms_per_query']:.2f} ms/query)"


def _captioner(model: str | None) -> object | None:
    if model is None:
        return None
    if not model.strip():
        from videopipe.errors import ConfigError

        raise ConfigError("--captions needs a model (a hub id, a local directory or a `videopipe list` name)")
    from videopipe.models import read_model_facts
    from videopipe.retrieval.captions import LLMCaptioner

    # the model's config files, read once before any video: a model that cannot be found is one
    # error, not one per video (its weights load on the first clip to caption)
    read_model_facts(model)
    return LLMCaptioner(model)
