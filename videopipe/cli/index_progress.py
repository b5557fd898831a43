"""The progress line of ``videopipe index``: videos done over the whole folder, hours of media
embedded, elapsed time and the ETA (at the bytes-per-second rate so far), and the video (and
its text stage) in progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videopipe.retrieval.index_report import IndexProgress, ProgressFn
from videopipe.text.build import TextProgress

__all__ = ["index_progress", "progress_text"]


def progress_text(p: IndexProgress) -> str:
    """``3/8 videos, 0.42 h of media, ETA 0:01:05`` (``ETA --`` before the first video)."""
    eta = p.eta_s
    if eta is None:
        when = "--"
    else:
        s = int(round(eta))
        when = f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{p.videos_done}/{p.videos} videos, {p.media_s_done / 3600:.2f} h of media, ETA {when}"


@contextmanager
def index_progress() -> Iterator[tuple[ProgressFn, TextProgress]]:
    """A rich progress bar on stderr, and the two callbacks that move it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("indexing"),
        BarColumn(),
        TextColumn("{task.fields[summary]}"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None, summary="")
        current = {"name": ""}

        def progress(p: IndexProgress) -> None:
            current["name"] = Path(p.current).name if p.current else ""
            bar.update(
                task,
                completed=p.videos_done,
                total=p.videos,
                description=current["name"],
                summary=progress_text(p),
            )

        def text_progress(source: str, done_s: float, total_s: float) -> None:
            bar.update(task, description=f"{current['name']}: {source} {done_s:.0f}/{total_s:.0f} s")

        yield progress, text_progress
