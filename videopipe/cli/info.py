"""``videopipe info VIDEO``: what a video is, as decoded."""

from __future__ import annotations

import typer

from videopipe.cli.common import print_json
from videopipe.cli.options import VideoFile


def info(
    video: VideoFile,
    backend: str = typer.Option("auto", "--backend", help="Decoder backend (see `videopipe list`)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the VideoInfo of VIDEO: duration, fps, frames, size, codec, rotation, VFR, backend."""
    from videopipe.decode import open_video

    with open_video(video, backend=backend, device=device) as reader:
        vi = reader.info
    if json_out:
        print_json(vi.to_dict())
        return
    for k, v in vi.to_dict().items():
        typer.echo(f"{k:>16}: {v}")
