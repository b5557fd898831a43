"""Where the benchmark scripts put what they measured: ``NAME.json`` and ``NAME.md`` side by side."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def save_results(out: Path, result: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """Write ``result`` to ``out.json`` and its markdown table to ``out.md``, then print the table."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    table = markdown(result)
    out.with_suffix(".md").write_text(table)
    print(table)
