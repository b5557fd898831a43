"""``videopipe ask VIDEO "question"``: answer a question about a video, with evidence timestamps."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import pipeline_config, print_json


def ask(
    video: Path = typer.Argument(..., help="Video file."),
    question: str = typer.Argument(..., help="The question."),
    model: str | None = typer.Option(None, "--model", help="Hub id or local path of a supported video LLM."),
    sampler: str | None = typer.Option(None, "--sampler", help="Frame sampler (see `videopipe list`)."),
    compressor: str | None = typer.Option(
        None, "--compressor", help="Token compressor, e.g. progressive or temporal_merge+progressive."
    ),
    num_frames: int | None = typer.Option(None, "--num-frames", "-n", min=1, help="Frame budget."),
    max_visual_tokens: int | None = typer.Option(
        None,
        "--max-visual-tokens",
        min=1,
        help="Visual-token budget after compression (default 2048; not applied with --compressor none).",
    ),
    size: int | None = typer.Option(
        None, "--size", help="Shorter side of frames, pixels (one visual token of the model to 4096)."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder for query-aware samplers."),
    retrieve: int | None = typer.Option(
        None, "--retrieve", min=1, help="Restrict sampling to the top-K clips."
    ),
    index: Path | None = typer.Option(None, "--index", help="Index directory for --retrieve."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    dtype: str | None = typer.Option(None, "--dtype", help="auto, float32, bfloat16 or float16."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", min=1, help="Answer length limit."),
    backend: str | None = typer.Option(None, "--backend", help="Decoder backend."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the token cache."),
    config: Path | None = typer.Option(None, "--config", help="TOML file with any of these options."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole Answer as JSON."),
) -> None:
    """Answer QUESTION about VIDEO and print the answer with its evidence timestamps."""
    from videopipe.decode.probe import check_path, probe
    from videopipe.pipeline import Pipeline, check_question

    # bad input fails before a (possibly multi-GB) model is loaded: a file that is not a video
    # in a tenth of a second (ffprobe), before any model file is read
    check_path(video)
    check_question(question, str(video))
    probe(video)

    cfg = pipeline_config(
        config,
        model=model,
        sampler=sampler,
        compressor=compressor,
        num_frames=num_frames,
        max_visual_tokens=max_visual_tokens,
        size_px=size,
        embedder=embedder,
        retrieve=retrieve,
        index_dir=str(index) if index is not None else None,
        device=device,
        dtype=dtype,
        max_new_tokens=max_new_tokens,
        decode_backend=backend,
        cache_tokens=False if no_cache else None,
    )
    # load_model=False: the geometry comes from the checkpoint's config files and the weights
    # load after the video is decoded, so a file that probes but cannot be decoded fails first too
    answer = Pipeline(config=cfg, load_model=False).ask(video, question)
    if json_out:
        print_json(answer.to_dict())
        return
    typer.echo(answer.text)
    if answer.evidence:
        spans = ", ".join(f"{h.start_s:.1f}-{h.end_s:.1f}s" for h in answer.evidence[:5])
        typer.echo(f"evidence: {spans}")
    s = answer.stats
    typer.echo(
        f"[{s.frames_selected} frames, {s.tokens_before} -> {s.tokens_after} visual tokens, "
        f"{sum(s.seconds.values()):.1f}s]"
    )
