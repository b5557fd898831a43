"""The typer application and the entry point that turns errors into exit codes.

Exit codes: 0 success, 1 the job ran but some records failed (batch), 2 bad input or
options, usage errors included (one line on stderr, no traceback unless ``--debug``), 130
interrupted (Ctrl-C; one line ``videopipe: interrupted``).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import typer

from videopipe.cli import common

app = typer.Typer(
    name="videopipe",
    help="Ask questions about long videos with a video LLM; index and search folders of videos.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    common.STATE.debug = debug


class _Interrupted(Exception):
    """Ctrl-C inside a command. typer turns a KeyboardInterrupt into a silent exit code 130;
    this one passes through it to :func:`main`, which says so."""


def _interruptible(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted() from None

    return run


def _register() -> None:
    # Each command lives in its own module; importing them is cheap (heavy imports happen
    # inside the commands).
    from videopipe.cli import ask, batch, compare, evaluate, frames, info, mcp_server, plugins
    from videopipe.cli import index as index_cmd
    from videopipe.cli import search as search_cmd
    from videopipe.cli import serve as serve_cmd
    from videopipe.cli import transcribe as transcribe_cmd
    from videopipe.cli.chapters import chapters as chapters_cmd
    from videopipe.cli.locate import locate as locate_cmd
    from videopipe.cli.summarize import summarize as summarize_cmd

    for name, command in (
        ("info", info.info),
        ("frames", frames.frames),
        ("list", plugins.list_plugins),
        ("ask", ask.ask),
        ("batch", batch.batch),
        ("eval", evaluate.eval_cmd),
        ("compare", compare.compare),
        ("index", index_cmd.index),
        ("search", search_cmd.search),
        ("transcribe", transcribe_cmd.transcribe),
        ("serve", serve_cmd.serve),
        ("mcp", mcp_server.mcp),
        ("chapters", chapters_cmd),
        ("locate", locate_cmd),
        ("summarize", summarize_cmd),
    ):
        app.command(name)(_interruptible(command))


_register()


def _click_exceptions() -> list[Any]:
    """The click exception modules whose errors can reach :func:`main`: typer >= 0.29 raises
    those of its vendored copy (``typer._click``), older typer those of click itself; a click
    that nothing imported raised nothing."""
    mods = []
    try:
        from typer._click import exceptions as vendored

        mods.append(vendored)
    except ImportError:  # typer < 0.29
        pass
    real = sys.modules.get("click.exceptions")
    if real is not None and real not in mods:
        mods.append(real)
    return mods


def _usage_line(e: Any) -> str:
    """A click usage error as one line, with the command's --help as the hint."""
    message = " ".join(str(e.format_message()).split())  # choice lists span lines
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        message += f" (try '{ctx.command_path} --help')"
    return message


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, *args: Any) -> None:
    """videopipe's own warnings as one line (``videopipe: warning: ...``), without Python's
    source line; other libraries' warnings as Python shows them."""
    if category.__module__.startswith("videopipe") or _in_package(filename):
        print(f"videopipe: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, *args)


_default_showwarning = warnings.showwarning


def _in_package(filename: str) -> bool:
    from pathlib import Path

    package = Path(__file__).resolve().parents[1]
    try:
        return Path(filename).resolve().is_relative_to(package)
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns (and exits with) the exit code."""
    args = sys.argv[1:] if argv is None else argv
    common.STATE.debug = "--debug" in args
    shown = warnings.showwarning
    warnings.showwarning = _show_warning  # the CLI's face only: the library keeps Python's
    # a file name that is not UTF-8 (bytes kept as surrogates): its own bytes on stdout, as ls
    # writes them, \xff escapes in messages
    restore = [_set_errors(sys.stdout, "surrogateescape"), _set_errors(sys.stderr, "backslashreplace")]
    try:
        code = _run(args)
    finally:
        warnings.showwarning = shown
        for undo in restore:
            undo()
    if code == 0:
        code = _stdout_error() or 0  # what is still buffered: `videopipe info v.mp4 > /dev/full`
    if argv is None:
        if _model_still_loading():
            # a command failed while its model loaded in the background (Pipeline.preload):
            # leave now, with the error already printed; letting the interpreter shut down
            # under a thread that is importing or writing a progress bar can abort it
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        sys.exit(code)
    return code


def _set_errors(stream: Any, errors: str) -> Callable[[], None]:
    """Set the text stream's encoding error handler; returns what restores it."""
    before = getattr(stream, "errors", None)
    try:
        stream.reconfigure(errors=errors)
    except (AttributeError, ValueError, OSError):  # not a text file of io's (replaced stdout)
        return lambda: None

    def restore() -> None:
        try:
            stream.reconfigure(errors=before)
        except (AttributeError, ValueError, OSError):
            pass

    return restore


def _model_still_loading() -> bool:
    pipeline = sys.modules.get("videopipe.pipeline")  # not imported: no model was loading
    return pipeline is not None and pipeline.model_loading()


def _run(args: list[str]) -> int:
    click_mods = _click_exceptions()
    no_args_help = tuple(m.NoArgsIsHelpError for m in click_mods if hasattr(m, "NoArgsIsHelpError"))
    usage_errors = tuple(m.UsageError for m in click_mods)
    click_errors = tuple(m.ClickException for m in click_mods)
    exits = tuple({typer.Exit, *(m.Exit for m in click_mods if hasattr(m, "Exit"))})
    aborts = tuple({typer.Abort, *(m.Abort for m in click_mods if hasattr(m, "Abort"))})
    try:
        result = app(args=args, standalone_mode=False, prog_name="videopipe")
        return result if isinstance(result, int) else 0
    except exits as e:
        return int(e.exit_code)
    except (_Interrupted, KeyboardInterrupt, *aborts):
        print("videopipe: interrupted", file=sys.stderr)
        return 130
    except no_args_help as e:
        help_text = e.format_message()  # empty when typer's rich help was printed already
        if help_text:
            print(help_text, file=sys.stderr)
        return 2
    except usage_errors as e:
        common.err(_usage_line(e))
        return 2
    except click_errors as e:  # e.g. FileError: a file argument that cannot be opened
        common.err(" ".join(str(e.format_message()).split()))
        return 2
    except Exception as e:  # noqa: BLE001 - the one place that turns errors into exit codes
        if _unwritable(e):
            return _output_failed(e)  # type: ignore[arg-type]
        return common.report_error(e)


#: errors of a write that did not fit (a full disk, /dev/full, a closed pipe, a dead disk)
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EFBIG, errno.EDQUOT})


def _unwritable(e: BaseException) -> bool:
    """An OSError of writing with no file name: a write to standard output (``> /dev/full``;
    the files videopipe writes report OutputError with their name)."""
    return isinstance(e, OSError) and e.filename is None and e.errno in _WRITE_ERRNOS


def _stdout_error() -> int | None:
    """None when standard output takes what it still holds; else the exit code of
    :func:`_output_failed`."""
    try:
        sys.stdout.flush()
        return None
    except OSError as e:
        return _output_failed(e)


def _output_failed(e: OSError) -> int:
    """One line and exit 2 (no line and exit 1 when the reader went away: ``| head -1``)."""
    try:  # what is left goes nowhere: the flush at exit would fail again, loudly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (captured output)
        pass
    if e.errno == errno.EPIPE:
        return 1
    where = "a terminal" if _isatty() else "standard output"
    common.err(f"cannot write the output to {where} ({e.strerror or e})")
    return 2


def _isatty() -> bool:
    try:
        return sys.stdout.isatty()
    except (OSError, ValueError):
        return False


if __name__ == "__main__":  # pragma: no cover
    main()
