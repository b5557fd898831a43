"""Result records: one JSON object per (video, question), success or error.

Every record has the same keys, so that JSONL and Parquet readers see one schema::

    id, video, question, status ("ok" | "error"), answer, evidence, stats, error, attempts, elapsed_s

``evidence`` is a list of ``{start_s, end_s, score, text}`` (most relevant first); ``error`` is
``{"type": <exception class name>, "message": <str>}`` on error records, else None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from videopipe.batch.jobs import Job, Payload

if TYPE_CHECKING:
    from videopipe.types import Answer

__all__ = ["ok_record", "error_record", "WORKER_CRASHED", "TASK_TIMEOUT", "VOLATILE_FIELDS"]

#: error type of the record written when a worker process died twice on the same video
WORKER_CRASHED = "WorkerCrashed"

#: error type of the records of a video whose worker was stopped after ``--task-timeout-s``
TASK_TIMEOUT = "TaskTimeout"

#: fields that differ between two runs of the same job (timing); drop them to compare runs
VOLATILE_FIELDS = ("elapsed_s",)


def _base(job: Job, *, attempts: int, elapsed_s: float) -> dict[str, Any]:
    return {
        "id": job.id,
        "video": job.video,
        "question": job.question,
        "status": "ok",
        "answer": None,
        "evidence": [],
        "stats": None,
        "error": None,
        "attempts": attempts,
        "elapsed_s": round(float(elapsed_s), 4),
    }


def ok_record(
    job: Job, answer: Answer | Payload, *, attempts: int = 1, elapsed_s: float = 0.0
) -> dict[str, Any]:
    from videopipe.types import Answer  # imports torch: only in workers

    if isinstance(answer, Payload):  # a driver that consumes the value itself (``index``)
        rec = _base(job, attempts=attempts, elapsed_s=elapsed_s)
        rec["answer"] = answer.value
        return rec
    if not isinstance(answer, Answer):
        raise TypeError(f"the runner returned {type(answer).__name__} for {job.video}, expected an Answer")
    rec = _base(job, attempts=attempts, elapsed_s=elapsed_s)
    rec["answer"] = answer.text
    rec["evidence"] = [
        {"start_s": h.start_s, "end_s": h.end_s, "score": h.score, "text": h.text} for h in answer.evidence
    ]
    rec["stats"] = answer.stats.to_dict()
    return rec


def error_record(
    job: Job, error_type: str, message: str, *, attempts: int = 1, elapsed_s: float = 0.0
) -> dict[str, Any]:
    rec = _base(job, attempts=attempts, elapsed_s=elapsed_s)
    rec["status"] = "error"
    rec["error"] = {"type": error_type, "message": message}
    return rec


def describe_exception(e: BaseException) -> tuple[str, str]:
    """(class name, message) of an exception, as error records store them (message capped
    at 2000 characters)."""
    msg = str(e).strip() or repr(e)
    return type(e).__name__, msg[:2000]
