"""Accuracy over evaluation records: overall, per category and per duration bucket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Records carry ``correct`` (bool), ``category``, ``duration``, ``visual_tokens``,
    ``seconds`` and optionally ``error``. Errored items count as wrong (and are counted)."""
    n = correct = errors = 0
    tokens = seconds = 0.0
    groups: dict[str, dict[str, list[int]]] = {
        "category": defaultdict(lambda: [0, 0]),
        "duration": defaultdict(lambda: [0, 0]),
    }
    for r in records:
        n += 1
        ok = bool(r.get("correct"))
        correct += ok
        errors += bool(r.get("error"))
        tokens += float(r.get("visual_tokens") or 0)
        seconds += float(r.get("seconds") or 0)
        for g in ("category", "duration"):
            key = str(r.get(g) or "-")
            groups[g][key][0] += ok
            groups[g][key][1] += 1

    def acc(c: int, t: int) -> float:
        return round(100.0 * c / t, 2) if t else 0.0

    return {
        "items": n,
        "correct": correct,
        "errors": errors,
        "accuracy": acc(correct, n),
        "per_category": {
            k: {"accuracy": acc(c, t), "items": t} for k, (c, t) in sorted(groups["category"].items())
        },
        "per_duration": {
            k: {"accuracy": acc(c, t), "items": t} for k, (c, t) in sorted(groups["duration"].items())
        },
        "mean_visual_tokens": round(tokens / n, 1) if n else 0.0,
        "mean_seconds": round(seconds / n, 3) if n else 0.0,
    }


def format_table(summary: dict[str, Any]) -> str:
    lines = [
        f"accuracy {summary['accuracy']:.2f}% ({summary['correct']}/{summary['items']}, {summary['errors']} errors); "
        f"mean visual tokens {summary['mean_visual_tokens']}, mean {summary['mean_seconds']} s/item"
    ]
    for g in ("per_category", "per_duration"):
        for k, v in summary[g].items():
            lines.append(f"  {g[4:]:>8} {k:<20} {v['accuracy']:6.2f}%  ({v['items']} items)")
    return "\n".join(lines)
