"""``videopipe frames VIDEO``: pick frames with a sampler, decode them, optionally save them."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from videopipe.cli.common import print_json
from videopipe.cli.options import SELECTION_FLAGS, PipelineFlags, pipeline_options

if TYPE_CHECKING:
    from videopipe.config import PipelineConfig
    from videopipe.types import Budget


@pipeline_options(SELECTION_FLAGS)
def frames(
    video: Path = typer.Argument(..., help="Video file."),
    query: str | None = typer.Option(
        None, "--query", help="Question for query-aware samplers (ask's QUESTION)."
    ),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", min=1, help="Visual-token budget of the sampler (frames only; ask sets none)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write JPEGs and a contact sheet here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON {frames: [{index, time_s}]}."),
    *,
    pipeline: PipelineFlags,
) -> None:
    """Select the frames of VIDEO that `ask` selects with the same options, and print their
    indices and times.

    The frame geometry (pixels per visual token, frames per temporal unit) is the model's when
    --model (or --config) names one: its config files are read, never its weights. Otherwise
    it is 28 px per token and one frame per unit, and no model files are needed. With --query
    and no --embedder, samplers that score frames use clip."""
    from videopipe.decode import open_video

    cfg, sampler_fn, budget, emb = _selection_stage(pipeline, query=query, max_tokens=max_tokens)
    with open_video(video, backend=cfg.decode_backend) as reader:
        selection = sampler_fn(reader, budget, query=query, features=emb)
        decoded = None
        if out is not None:
            decoded = reader.frames_at(selection.indices, size=cfg.size_px)
    rows = [
        {"index": int(i), "time_s": round(float(t), 6)} for i, t in zip(selection.indices, selection.times_s)
    ]
    if out is not None and decoded is not None:
        from videopipe.cli.images import write_frames

        write_frames(decoded, out)
    if json_out:
        clips = [
            {
                "start_s": round(c.start_s, 6),
                "end_s": round(c.end_s, 6),
                "num_frames": len(c),
                "size": list(c.size) if c.size else None,
                "score": c.score,
            }
            for c in selection.clips
        ]
        print_json(
            {
                "video": str(video),
                "sampler": cfg.sampler,
                "embedder": cfg.embedder,
                "frames_decoded": selection.frames_decoded,
                "frames": rows,
                "clips": clips,
            }
        )
        return
    for r in rows:
        typer.echo(f"frame {r['index']:>8}  t={r['time_s']:.3f}s")
    if out is not None:
        typer.echo(f"wrote {len(rows)} frames and contact_sheet.png to {out}")


def _selection_stage(
    pipeline: PipelineFlags, *, query: str | None, max_tokens: int | None
) -> tuple[PipelineConfig, Any, Budget, Any]:
    """(config, sampler, budget, embedder) of the selection ``ask`` makes with these options:
    the pipeline's own when a model is named (its geometry read from its config files),
    else the same stages with the model-free geometry of :class:`~videopipe.types.Budget`."""
    from videopipe.config import DEFAULT_MODEL
    from videopipe.registry import EMBEDDERS, SAMPLERS
    from videopipe.types import Budget

    cfg = pipeline.config()
    if query is not None and cfg.embedder is None:
        cfg = cfg.with_overrides(embedder="clip")  # a question needs an image-text embedder to score frames
    if cfg.retrieve:
        warnings.warn(
            f"frames samples the whole video: retrieval (retrieve = {cfg.retrieve} in {pipeline.config_file}) "
            "is not previewed",
            stacklevel=2,
        )
    if "model" in pipeline.given or cfg.model != DEFAULT_MODEL:
        from videopipe.pipeline import Pipeline

        pipe = Pipeline(config=cfg, load_model=False)
        sampler, budget, emb = pipe.sampler, pipe.budget, pipe.embedder
    else:
        sampler = SAMPLERS.create(cfg.sampler)
        budget = Budget(num_frames=cfg.num_frames, size_px=cfg.size_px)
        emb = EMBEDDERS.create(cfg.embedder) if cfg.embedder else None
    if max_tokens is not None:
        budget = replace(budget, max_tokens=max_tokens)
    return cfg, sampler, budget, emb
