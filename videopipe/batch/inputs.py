"""Turn a batch input (folder, list file or manifest) plus questions into jobs.

* folder: every file below it (recursive) whose name matches ``glob`` (default: common video
  extensions), sorted by path;
* ``.jsonl`` / ``.csv`` manifest: rows with a ``video`` column, optional ``question`` and ``id``;
* any other file: a list of video paths, one per line (blank lines and ``#`` comments skipped).

Relative paths in list files and manifests are relative to the file's folder. Every video
path is made absolute (not resolving symlinks) so record ids do not depend on the current
directory. Questions given on the command line apply to every video/row without its own.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import os
from collections.abc import Sequence
from pathlib import Path

from videopipe.batch.jobs import Job, VideoTask, job_id
from videopipe.errors import InputError, file_problem
from videopipe.textfile import read_jsonl, read_utf8

__all__ = ["VIDEO_EXTENSIONS", "discover_videos", "load_jobs", "read_questions", "group_by_video"]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")


def discover_videos(folder: str | Path, *, glob: str | None = None) -> list[str]:
    """Video files below ``folder`` (recursive), sorted; ``glob`` matches file names."""
    root = Path(folder)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            ok = fnmatch.fnmatch(name, glob) if glob else name.lower().endswith(VIDEO_EXTENSIONS)
            if ok:
                out.append(os.path.abspath(os.path.join(dirpath, name)))
    return sorted(out)


def read_questions(path: str | Path) -> list[str]:
    """Questions from a text file, one per line (blank lines and ``#`` comments skipped)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"questions file {p} {file_problem(p)}")
    qs = [ln.strip() for ln in read_utf8(p, "questions file").splitlines()]
    qs = [q for q in qs if q and not q.startswith("#")]
    if not qs:
        raise InputError(f"questions file {p} has no questions (one per line)")
    return qs


def _abs(video: str, base: Path) -> str:
    v = os.path.expanduser(video.strip())
    return os.path.abspath(v if os.path.isabs(v) else os.path.join(base, v))


def _read_manifest(p: Path) -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = []
    if p.suffix.lower() == ".jsonl":
        for n, row in read_jsonl(p, "manifest"):
            if not isinstance(row, dict):
                raise InputError(f"{p}:{n}: expected a JSON object with a 'video' key")
            rows.append(row)
    else:
        reader = csv.DictReader(io.StringIO(read_utf8(p, "manifest"), newline=""))
        if reader.fieldnames is None or "video" not in reader.fieldnames:
            raise InputError(f"{p}: CSV manifest needs a header row with a 'video' column")
        rows = list(reader)
    for n, row in enumerate(rows, 1):
        if not isinstance(row.get("video"), str) or not str(row["video"]).strip():
            raise InputError(f"{p}: row {n} has no 'video' value")
        for key in ("question", "id"):
            v = row.get(key)
            if v is not None and not isinstance(v, str):
                raise InputError(f"{p}: row {n}: {key!r} must be a string, got {v!r}")
    return rows


def load_jobs(
    source: str | Path,
    *,
    questions: Sequence[str] = (),
    glob: str | None = None,
) -> list[Job]:
    """All jobs of a batch input, in input order, duplicates (same id) removed."""
    src = Path(source)
    qs = [q.strip() for q in questions]
    if any(not q for q in qs):
        raise InputError("empty --question; every question needs some text")
    rows: list[tuple[str, str | None, str | None]] = []  # (video, question, id)
    if src.is_dir():
        videos = discover_videos(src, glob=glob)
        if not videos:
            what = f"matching {glob!r}" if glob else f"with a video extension ({', '.join(VIDEO_EXTENSIONS)})"
            raise InputError(f"folder {src} has no files {what}; check the path or pass --glob")
        rows = [(v, None, None) for v in videos]
    elif src.is_file():
        if glob:
            raise InputError(f"--glob only applies to a folder input, not to the file {src}")
        base = src.parent
        if src.suffix.lower() in (".jsonl", ".csv"):
            for row in _read_manifest(src):
                q = (row.get("question") or "").strip() or None
                rid = (row.get("id") or "").strip() or None
                rows.append((_abs(str(row["video"]), base), q, rid))
        elif src.name.lower().endswith(VIDEO_EXTENSIONS):  # one video: its questions are the jobs
            rows.append((os.path.abspath(src), None, None))
        else:
            try:
                text = src.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise InputError(
                    f"input {src} is neither a folder, a text list of videos (one path a line), a "
                    ".jsonl/.csv manifest nor a video file with a known extension "
                    f"({', '.join(VIDEO_EXTENSIONS)})"
                ) from None
            for line in text.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    rows.append((_abs(line, base), None, None))
        if not rows:
            raise InputError(f"input file {src} lists no videos")
    else:
        raise InputError(
            f"input {src} {file_problem(src)}; pass a folder, a list file or a .jsonl/.csv manifest"
        )

    jobs: list[Job] = []
    seen: dict[str, Job] = {}
    for video, q, rid in rows:
        row_qs = [q] if q else qs
        if not row_qs:
            raise InputError(
                f"no question for {video}: give --question TEXT (repeatable) or --questions FILE, "
                "or a 'question' column in the manifest"
            )
        for question in row_qs:
            job = Job(id=rid or job_id(video, question), video=video, question=question)
            prev = seen.get(job.id)
            if prev is not None:
                if (prev.video, prev.question) != (job.video, job.question):
                    raise InputError(
                        f"{src}: id {job.id!r} is used for two different jobs "
                        f"({prev.video!r}/{prev.question!r} and {job.video!r}/{job.question!r}); ids must be unique"
                    )
                continue
            seen[job.id] = job
            jobs.append(job)
    return jobs


def group_by_video(jobs: Sequence[Job]) -> list[VideoTask]:
    """Jobs grouped into one task per video (first-appearance order)."""
    by_video: dict[str, list[Job]] = {}
    for j in jobs:
        by_video.setdefault(j.video, []).append(j)
    return [VideoTask(v, tuple(js)) for v, js in by_video.items()]
