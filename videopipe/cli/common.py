"""Helpers shared by CLI commands: error reporting, JSON output, progress."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from videopipe.errors import VideoPipeError


@dataclass
class _State:
    debug: bool = False


STATE = _State()


def err(message: str) -> None:
    print(f"videopipe: error: {message}", file=sys.stderr)


def report_error(e: BaseException) -> int:
    """Print ``e`` as one line (a traceback too with --debug) and return the exit code."""
    if STATE.debug:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    if isinstance(e, VideoPipeError):
        err(str(e))
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
