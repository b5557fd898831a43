"""The resumable JSONL results file.

* One record per line, appended with a single ``write`` of the full line followed by
  ``fsync``: after a crash or ``SIGKILL`` the file holds whole records, except possibly a
  trailing partial line.
* On open, the complete lines are read and checked first: a file that is not a results file
  is an error and is left as it was. Then a trailing partial line (no final newline) that
  starts the way a record does is truncated away and never counted as done; any other partial
  line means the file is someone else's (an error, the file untouched). The ids of every
  complete record are "finished" and are skipped by a rerun.
* ``retry_failed=True`` rewrites the file without its error records (atomically: temp file +
  rename), so that their jobs run again and the file still has one record per id.
* An exclusive ``flock`` on the file keeps two batch runs from writing the same output.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from videopipe.errors import InputError, OutputError, VideoPipeError

__all__ = ["ResultStore", "read_records", "write_parquet"]


class ResultStore:
    """Append-only results file with resume. Use as a context manager."""

    def __init__(self, path: str | Path, *, retry_failed: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise InputError(f"output {self.path} exists and is not a file; pass a .jsonl file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise _cannot_write(self.path, e) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise VideoPipeError(
                f"output {self.path} is being written by another videopipe batch run; "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            # every complete line is checked before anything is cut: a file that is not ours
            # (notes.txt) is never modified
            self.records: dict[str, dict[str, Any]] = {}
            for rec in read_records(self.path):
                self.records[rec["id"]] = rec
            self.truncated_bytes = self._truncate_partial_line()
            if retry_failed and any(r.get("status") != "ok" for r in self.records.values()):
                self._drop_failed()
        except BaseException:
            self.close()
            raise

    # -- startup --------------------------------------------------------------------------
    def _truncate_partial_line(self) -> int:
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        # find the last newline, reading backwards in blocks
        pos, block = size, 1 << 16
        last_nl = -1
        while pos > 0 and last_nl < 0:
            start = max(0, pos - block)
            chunk = os.pread(self._fd, pos - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                last_nl = start + i
            pos = start
        keep = last_nl + 1  # 0 when there is no newline at all
        if keep < size:
            tail = os.pread(self._fd, min(size - keep, len(_RECORD_START)), keep)
            if not (tail.startswith(_RECORD_START) or _RECORD_START.startswith(tail)):
                raise InputError(
                    f"output {self.path} ends with a line that is not a videopipe batch record "
                    f"({tail[:20]!r}...); it is not a results file: choose another --out"
                )
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
        return size - keep

    def _drop_failed(self) -> None:
        kept = {k: r for k, r in self.records.items() if r.get("status") == "ok"}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            for rec in kept.values():
                f.write(_utf8(_line(rec)))
            f.flush()
            os.fsync(f.fileno())
        # the lock lives on the old inode: take it on the new file before swapping it in
        new_fd = os.open(tmp, os.O_RDWR | os.O_APPEND)
        fcntl.flock(new_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = new_fd
        self.records = kept

    # -- writing ----------------------------------------------------------------------------
    @property
    def done_ids(self) -> set[str]:
        return set(self.records)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably (one write of the full line, then fsync)."""
        if self._fd < 0:
            raise VideoPipeError(f"results file {self.path} is closed")
        data = _utf8(_line(record))
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # regular files write everything; be safe anyway
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as e:  # a full disk: the line may be partial, which a rerun cuts off
            raise _cannot_write(self.path, e) from None
        self.records[record["id"]] = record

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing releases the flock
            self._fd = -1

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cannot_write(path: Path, e: OSError) -> OutputError:
    return OutputError(f"output {path}: cannot write there ({e.strerror or e}); choose another --out")


#: how every line :func:`_line` writes begins (records are built with ``id`` first)
_RECORD_START = b'{"id": '


def _line(record: dict[str, Any]) -> str:
    text = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)
    return text + "\n"


def _utf8(line: str) -> bytes:
    """A record line as UTF-8; a file name that is not UTF-8 (its bytes kept as lone
    surrogates) is written as JSON's ``\\udcXX`` escapes, which read back as the same name."""
    return line.encode(
        "utf-8", "backslashreplace"
    )  # json.dumps never emits a raw newline, so one record == one line


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The complete records of a results file (a trailing partial line is ignored)."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, "rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                return  # partial last line: not a record
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise InputError(
                    f"{p}:{n} is not a JSON record ({e}); the results file is damaged — "
                    "remove that line or write to a new --out"
                ) from None
            if not isinstance(rec, dict) or "id" not in rec:
                raise InputError(f"{p}:{n} is not a videopipe batch record (no 'id'); use a new --out")
            yield rec


def write_parquet(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Write records to Parquet (flat columns; evidence as a list of structs, stats as JSON, an
    answer that is not text, such as ``--job chapters``'s, as JSON)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - pyarrow is a dev dependency
        from videopipe.errors import MissingDependencyError

        raise MissingDependencyError(
            "--parquet needs pyarrow; install it with: pip install 'videopipe[parquet]'"
        ) from e
    hit = pa.struct(
        [("start_s", pa.float64()), ("end_s", pa.float64()), ("score", pa.float64()), ("text", pa.string())]
    )
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("video", pa.string()),
            ("question", pa.string()),
            ("status", pa.string()),
            ("answer", pa.string()),
            ("evidence", pa.list_(hit)),
            ("stats_json", pa.string()),
            ("error_type", pa.string()),
            ("error_message", pa.string()),
            ("attempts", pa.int32()),
            ("elapsed_s", pa.float64()),
        ]
    )
    rows = []
    for r in records:
        err = r.get("error") or {}
        rows.append(
            {
                "id": r["id"],
                "video": r.get("video"),
                "question": r.get("question"),
                "status": r.get("status"),
                "answer": _answer_text(r.get("answer")),
                "evidence": [
                    {k: e.get(k) for k in ("start_s", "end_s", "score", "text")}
                    for e in r.get("evidence") or []
                ],
                "stats_json": None if r.get("stats") is None else json.dumps(r["stats"]),
                "error_type": err.get("type"),
                "error_message": err.get("message"),
                "attempts": r.get("attempts"),
                "elapsed_s": r.get("elapsed_s"),
            }
        )
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp)
    os.replace(tmp, out)
    return out


def _answer_text(answer: Any) -> str | None:
    return answer if answer is None or isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
