"""``videopipe frames VIDEO``: pick frames with a sampler, decode them, optionally save them."""

from __future__ import annotations

from pathlib import Path

import typer

from videopipe.cli.common import print_json


def frames(
    video: Path = typer.Argument(..., help="Video file."),
    num_frames: int = typer.Option(16, "--num-frames", "-n", min=1, help="How many frames to select."),
    sampler: str = typer.Option("uniform", "--sampler", help="Sampler name (see `videopipe list`)."),
    size: int = typer.Option(448, "--size", help="Shorter side of decoded frames, pixels (28 to 4096)."),
    query: str | None = typer.Option(None, "--query", help="Question for query-aware samplers."),
    embedder: str | None = typer.Option(
        None,
        "--embedder",
        help="Embedder for samplers that score frames (default with --query: clip; 'color' needs no model).",
    ),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Visual-token budget."),
    backend: str = typer.Option("auto", "--backend", help="Decoder backend."),
    out: Path | None = typer.Option(None, "--out", help="Write JPEGs and a contact sheet here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON {frames: [{index, time_s}]}."),
) -> None:
    """Select NUM_FRAMES frames of VIDEO with SAMPLER and print their indices and times."""
    from videopipe.decode import open_video
    from videopipe.registry import EMBEDDERS, SAMPLERS
    from videopipe.types import Budget

    sampler_fn = SAMPLERS.create(sampler)
    if embedder is None and query is not None:
        embedder = "clip"  # a question needs an image-text embedder to score frames against it
    emb = EMBEDDERS.create(embedder) if embedder else None
    budget = Budget(num_frames=num_frames, max_tokens=max_tokens, size_px=size)
    with open_video(video, backend=backend) as reader:
        selection = sampler_fn(reader, budget, query=query, features=emb)
        decoded = None
        if out is not None:
            decoded = reader.frames_at(selection.indices, size=size)
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
                "sampler": sampler,
                "embedder": embedder,
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
