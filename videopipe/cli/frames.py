"""``videopipe frames VIDEO``: pick frames with a sampler, decode them, optionally save them."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from videopipe.cli.common import print_json
from videopipe.cli.options import SELECTION_FLAGS, PipelineFlags, VideoFile, pipeline_options
from videopipe.cli.outputs import check_output_dir, writing

if TYPE_CHECKING:
    from videopipe.config import PipelineConfig
    from videopipe.types import Budget


@pipeline_options(SELECTION_FLAGS)
def frames(
    video: VideoFile,
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
    if out is not None:
        check_output_dir(out, "--out")
    with open_video(video, backend=cfg.decode_backend) as reader:
        selection = sampler_fn(reader, budget, query=query, embedder=emb)
        if out is not None:
            _write_selection(reader, selection.indices, cfg.size_px, out)
    rows = [
        {"index": int(i), "time_s": round(float(t), 6)} for i, t in zip(selection.indices, selection.times_s)
    ]
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


WRITE_CHUNK_FRAMES = 32  # frames decoded (and held) at a time by `frames --out`


def write_chunks(reader: Any, indices: list[int], *, chunk: int = WRITE_CHUNK_FRAMES) -> list[list[int]]:
    """``indices`` cut into consecutive chunks of about ``chunk`` frames, each decoded by one
    ``frames_at`` call. A chunk ends where the next frame is in another group of pictures
    than the chunk's last one (so no group is decoded twice), unless that would make it twice
    ``chunk`` long."""
    import numpy as np

    if not indices:
        return []
    keys = np.asarray(reader.keyframe_times(), np.float64)
    group = np.searchsorted(keys, reader.pts_s[np.asarray(indices)] + 1e-9, side="right").tolist()
    chunks, start = [], 0
    for j in range(1, len(indices) + 1):
        size = j - start
        if j == len(indices) or size >= 2 * chunk or (size >= chunk and group[j] != group[j - 1]):
            chunks.append(indices[start:j])
            start = j
    return chunks


def _write_selection(reader: Any, indices: list[int], size_px: Any, out: Path) -> None:
    """Decode the selected frames chunk by chunk and write each chunk (JPEGs + its row of the
    contact sheet) before decoding the next: memory stays that of one chunk."""
    from videopipe.cli.images import FrameWriter
    from videopipe.decode.reader import output_size

    h, w = output_size(reader.info.height, reader.info.width, size_px)
    with writing(out, "--out"):
        writer = FrameWriter(out, count=len(indices), height=h, width=w)
        for part in write_chunks(reader, list(indices)):
            writer.write(reader.frames_at(part, size=size_px))
        writer.close()


def _selection_stage(
    pipeline: PipelineFlags, *, query: str | None, max_tokens: int | None
) -> tuple[PipelineConfig, Any, Budget, Any]:
    """(config, sampler, budget, embedder) of the selection ``ask`` makes with these options:
    the pipeline's own when a model is named (its geometry read from its config files),
    else the same stages with the model-free geometry of :class:`~videopipe.types.Budget`."""
    from videopipe.config import CPU_DEFAULT_MODEL, DEFAULT_MODEL
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
    if "model" in pipeline.given or cfg.model not in (DEFAULT_MODEL, CPU_DEFAULT_MODEL):
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
