"""Multiple-choice QA items: the canonical JSONL format and converters for published formats.

Canonical item (one JSON object per line)::

    {"id": "q1", "video": "clips/a.mp4", "question": "...", "options": ["red", "blue", "green", "white"],
     "answer": "B", "category": "color", "duration": "short"}

``answer`` is a letter (``A``..), an option index, or the option text. ``video`` paths are
relative to ``--videos DIR``.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from videopipe.errors import InputError, file_problem, one_line
from videopipe.textfile import read_jsonl, read_utf8

LETTERS = string.ascii_uppercase
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Za-z])[\.\):]\s+")


@dataclass(frozen=True)
class MCItem:
    id: str
    video: str
    question: str
    options: tuple[str, ...]
    answer: str  # the correct letter
    category: str = ""
    duration: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = list(self.options)
        return d


def _strip_prefix(option: str) -> str:
    """'A. a red car' -> 'a red car' (Video-MME options carry their letters)."""
    return _OPTION_PREFIX.sub("", option, count=1).strip()


def _answer_letter(answer: Any, options: tuple[str, ...], where: str) -> str:
    if isinstance(answer, int) and not isinstance(answer, bool):
        if 0 <= answer < len(options):
            return LETTERS[answer]
    elif isinstance(answer, str):
        a = answer.strip()
        if len(a) == 1 and a.upper() in LETTERS[: len(options)]:
            return a.upper()
        m = _OPTION_PREFIX.match(a + " ")
        if m and m.group(1).upper() in LETTERS[: len(options)] and _strip_prefix(a) in options:
            return m.group(1).upper()
        for k, opt in enumerate(options):
            if a.lower() == opt.lower():
                return LETTERS[k]
    raise InputError(
        f"{where}: answer {answer!r} is not a letter, index or text of one of the {len(options)} options"
    )


def item_from_dict(d: dict[str, Any], where: str) -> MCItem:
    missing = [k for k in ("video", "question", "options", "answer") if k not in d]
    if missing:
        raise InputError(
            f"{where}: missing field(s) {missing}; each item needs video, question, options, answer"
        )
    opts = d["options"]
    if not isinstance(opts, list) or len(opts) < 2 or not all(isinstance(o, str) for o in opts):
        raise InputError(f"{where}: options must be a list of at least 2 strings")
    if len(opts) > len(LETTERS):
        raise InputError(f"{where}: at most {len(LETTERS)} options")
    options = tuple(_strip_prefix(o) for o in opts)
    qid = str(d.get("id") or d.get("question_id") or f"{d['video']}#{abs(hash(d['question'])) % 10**10}")
    return MCItem(
        id=qid,
        video=str(d["video"]),
        question=str(d["question"]).strip(),
        options=options,
        answer=_answer_letter(d["answer"], options, where),
        category=str(d.get("category", "")),
        duration=str(d.get("duration", "")),
    )


def load_items(path: str | Path, *, fmt: str = "auto") -> list[MCItem]:
    """Read items from ``path``: canonical JSONL, or a published format (``videomme``, ``mlvu``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"dataset file {p} {file_problem(p)}")
    if fmt == "auto":
        fmt = _detect(p)
    converters = {"jsonl": _read_jsonl, "videomme": read_videomme, "mlvu": read_mlvu}
    if fmt not in converters:
        raise InputError(f"unknown dataset format {fmt!r}; valid: auto, {', '.join(converters)}")
    items = list(converters[fmt](p))
    if not items:
        raise InputError(f"dataset file {p} has no items")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise InputError(f"dataset file {p} has duplicate item ids")
    return items


def _detect(p: Path) -> str:
    if p.suffix == ".parquet":
        return "videomme"
    head = p.read_text(encoding="utf-8", errors="replace").lstrip()[:4096]
    if head.startswith("["):
        return "mlvu" if '"candidates"' in head else "videomme"
    if '"videoID"' in head or '"task_type"' in head:
        return "videomme"
    if '"candidates"' in head:
        return "mlvu"
    return "jsonl"


def _read_jsonl(p: Path) -> Iterator[MCItem]:
    for n, d in read_jsonl(p, "dataset file"):
        yield item_from_dict(d, f"{p}:{n}")


def _records(p: Path) -> list[dict[str, Any]]:
    if p.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(p).to_pylist()
        except (pa.ArrowException, OSError) as e:
            raise InputError(f"dataset file {p} is not a readable Parquet file ({one_line(e)})") from None
    text = read_utf8(p, "dataset file")
    try:
        if text.lstrip().startswith("["):
            return json.loads(text)
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise InputError(f"dataset file {p}: line {e.lineno} is not valid JSON ({e.msg})") from None


def read_videomme(p: Path) -> Iterator[MCItem]:
    """Video-MME (lmms-lab/Video-MME): fields videoID, question_id, duration (short/medium/long),
    domain, task_type, question, options ["A. ...", ...], answer "A". Videos are ``<videoID>.mp4``."""
    for n, r in enumerate(_records(p), 1):
        d = {
            "id": r.get("question_id") or f"{r.get('videoID')}-{n}",
            "video": f"{r['videoID']}.mp4" if "videoID" in r else r.get("video"),
            "question": r["question"],
            "options": list(r["options"]),
            "answer": r["answer"],
            "category": r.get("task_type", ""),
            "duration": r.get("duration", ""),
        }
        yield item_from_dict(d, f"{p}:{n}")


def read_mlvu(p: Path) -> Iterator[MCItem]:
    """MLVU (multiple-choice tasks): fields video, duration (seconds), question, candidates
    [texts], answer (text of the right candidate), question_type."""
    for n, r in enumerate(_records(p), 1):
        dur = r.get("duration", "")
        d = {
            "id": r.get("id") or f"{r.get('question_type', 'mlvu')}-{n}",
            "video": r["video"],
            "question": r["question"],
            "options": list(r["candidates"]),
            "answer": r["answer"],
            "category": r.get("question_type", ""),
            "duration": _duration_bucket(dur) if isinstance(dur, (int, float)) else str(dur),
        }
        yield item_from_dict(d, f"{p}:{n}")


def _duration_bucket(seconds: float) -> str:
    """Video-MME's buckets: short < 2 min, medium 4-15 min, long 30-60 min (gaps folded in)."""
    if seconds < 240:
        return "short"
    if seconds < 1800:
        return "medium"
    return "long"


def write_jsonl(items: Iterable[MCItem], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it.to_dict()) + "\n")
