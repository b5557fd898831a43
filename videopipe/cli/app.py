"""The typer application and the entry point that turns errors into exit codes.

Exit codes: 0 success, 1 the job ran but some records failed (batch), 2 bad input or
options (one line on stderr, no traceback unless ``--debug``), 130 interrupted.
"""

from __future__ import annotations

import sys

import click
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


def _register() -> None:
    # Each command lives in its own module; importing them is cheap (heavy imports happen
    # inside the commands).
    from videopipe.cli import ask, batch, evaluate, frames, info, plugins
    from videopipe.cli import index as index_cmd
    from videopipe.cli import search as search_cmd

    app.command("info")(info.info)
    app.command("frames")(frames.frames)
    app.command("list")(plugins.list_plugins)
    app.command("ask")(ask.ask)
    app.command("batch")(batch.batch)
    app.command("eval")(evaluate.eval_cmd)
    app.command("index")(index_cmd.index)
    app.command("search")(search_cmd.search)


_register()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point. Returns (and exits with) the exit code."""
    args = sys.argv[1:] if argv is None else argv
    common.STATE.debug = "--debug" in args
    try:
        result = app(args=args, standalone_mode=False, prog_name="videopipe")
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.exceptions.Abort:
        common.err("interrupted")
        code = 130
    except KeyboardInterrupt:
        common.err("interrupted")
        code = 130
    except click.ClickException as e:
        e.show()
        code = 2
    except Exception as e:  # noqa: BLE001 - the one place that turns errors into exit codes
        code = common.report_error(e)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
