"""Run a multiple-choice evaluation on the batch machinery (resumable, fault-isolated).

The model's raw answers go to ``<out stem>.answers.jsonl`` (a batch results file: rerunning
continues it); the per-item evaluation records (``<out>``) and the summary
(``<out stem>.summary.json``) are derived from it at the end of every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from videopipe.eval.dataset import MCItem
from videopipe.eval.prompt import build_prompt, parse_choice
from videopipe.eval.report import summarize


def answers_path(out: str | Path) -> Path:
    p = Path(out)
    return p.with_name(p.name.removesuffix(".jsonl") + ".answers.jsonl")


def summary_path(out: str | Path) -> Path:
    p = Path(out)
    return p.with_name(p.name.removesuffix(".jsonl") + ".summary.json")


def jobs_for(items: list[MCItem], videos_dir: str | Path) -> list[Any]:
    """One batch job per item: the video under ``videos_dir`` and the multiple-choice prompt."""
    from videopipe.batch.jobs import Job

    root = Path(videos_dir)
    return [Job(id=it.id, video=str(root / it.video), question=build_prompt(it)) for it in items]


def score(items: list[MCItem], answer_records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-item evaluation records from the batch answer records (missing = not run yet)."""
    out = []
    for it in items:
        rec = answer_records.get(it.id)
        if rec is None:
            continue
        text = rec.get("answer") if rec.get("status") == "ok" else None
        choice = parse_choice(text, it) if text is not None else None
        stats = rec.get("stats") or {}
        err = rec.get("error")
        out.append(
            {
                "id": it.id,
                "video": it.video,
                "category": it.category,
                "duration": it.duration,
                "answer": it.answer,
                "output": text,
                "choice": choice,
                "correct": choice == it.answer,
                "visual_tokens": stats.get("tokens_after"),
                "seconds": round(sum((stats.get("seconds") or {}).values()), 4) if stats else None,
                "error": f"{err['type']}: {err['message']}" if err else None,
            }
        )
    return out


def evaluate(
    items: list[MCItem],
    videos_dir: str | Path,
    *,
    spec: Any,
    executor: Any,
    out: str | Path,
    progress: bool = True,
) -> tuple[dict[str, Any], Any]:
    """Run (or continue) the evaluation; returns (summary dict, batch summary)."""
    from videopipe.batch.results import read_records
    from videopipe.batch.run import run_batch

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    batch_summary = run_batch(
        jobs_for(items, videos_dir), spec, out=answers_path(out), executor=executor, progress=progress
    )
    records = score(items, {r["id"]: r for r in read_records(answers_path(out))})
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    tmp.replace(out)
    summary = summarize(records)
    summary["complete"] = len(records) == len(items)
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary, batch_summary
