"""Helpers shared by CLI commands: error reporting, JSON output, progress."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from videopipe.errors import VideoPipeError


@dataclass
class _State:
    debug: bool = False


STATE = _State()


def err(message: str) -> None:
    """One line on stderr, whatever ``message`` holds (a library's text may span lines)."""
    text = " ".join(message.split())
    # a file name that is not UTF-8 (its bytes kept as surrogates) is shown as \xff escapes
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    print(f"videopipe: error: {text}", file=sys.stderr)


def echo_notes(notes: Iterable[str]) -> None:
    """A job's notes (what it could not use, and why), one ``videopipe: note:`` line each."""
    for note in notes:
        print(f"videopipe: note: {note}", file=sys.stderr)


def printed_json(result: Any, json_out: bool) -> bool:
    """A job's result (chapters, locate, summarize): its notes on stderr, then, with ``--json``,
    its ``to_dict()`` on stdout; True when it printed the JSON (the command prints nothing else)."""
    echo_notes(result.notes)
    if json_out:
        print_json(result.to_dict())
    return json_out


def video_llm(name: str) -> Any:
    """The video LLM ``name`` (``--model``; see ``videopipe list``) loaded as ``ask`` loads it,
    with the pipeline's default device, dtype and options (the jobs that describe frames)."""
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    return Pipeline(config=PipelineConfig().with_overrides(model=name)).model


def report_error(e: BaseException) -> int:
    """Print ``e`` as one line (a traceback too with --debug) and return the exit code."""
    if STATE.debug:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    if isinstance(e, VideoPipeError):
        err(str(e))
        return 2
    if isinstance(e, OSError) and e.filename is not None:
        # the system refused a path the user gave (name too long, permission, no space): the
        # input or the machine, not a bug
        err(f"{os.fsdecode(e.filename)}: {e.strerror or e}")
        return 2
    err(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)")
    return 3


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def _default(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


@contextmanager
def text_progress_bar(
    label: str, *, quiet: bool = False
) -> Iterator[Callable[[str, float, float], None] | None]:
    """A stderr progress bar for the text stage (seconds of audio transcribed, of video read
    for screen text), as a ``progress(source, done, total)`` callback; None when ``quiet`` or
    when stderr is not a terminal (nobody watches; logs stay clean)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.fields[what]} {task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None, what="reading text of", amount="")

        def progress(source: str, done: float, total: float) -> None:
            what = "transcribing" if source == "speech" else "reading screen text of"
            unit = "of audio" if source == "speech" else "of video"
            bar.update(
                task, completed=done, total=total, what=what, amount=f"{done:.0f}/{total:.0f} s {unit}"
            )

        yield progress


_STAGE_LABELS = {"encode": "encoding frames", "prefill": "reading the prompt", "generate": "generating"}


class ModelProgress:
    """A stderr progress bar with ETA for the model's long stages (``VideoLLM.progress``):
    frames encoded of all, the prompt's prefill, tokens generated of ``max_new_tokens``.
    :meth:`stop` takes it off the screen (before the streamed answer is written), :meth:`restart`
    puts it back for the next answer."""

    def __init__(self, *, force_terminal: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True, force_terminal=force_terminal or None),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, Any] = {}
        self._stopped = False
        self._bar.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._stopped:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(_STAGE_LABELS.get(stage, stage), total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._bar.stop()

    def restart(self) -> None:
        """Back on the screen with fresh bars (the next answer of ``ask`` with several
        questions); nothing when it was not stopped."""
        if self._stopped:
            for task in self._tasks.values():
                self._bar.remove_task(task)
            self._tasks.clear()
            self._stopped = False
            self._bar.start()


@contextmanager
def model_progress_bar(show: bool | None = None) -> Iterator[ModelProgress | None]:
    """A :class:`ModelProgress` while the block runs: when ``show`` is True, or None and stderr
    is a terminal (nobody watches a log); else None."""
    if not (show if show is not None else sys.stderr.isatty()):
        yield None
        return
    bar = ModelProgress(force_terminal=show is True)  # asked for: drawn even into a pipe
    try:
        yield bar
    finally:
        bar.stop()
