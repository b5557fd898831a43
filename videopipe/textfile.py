"""Reading the text files a user hands in (questions, queries, manifests, datasets): one
:class:`~videopipe.errors.InputError` naming the file and the line for bytes that are not
UTF-8 or a file that cannot be read, instead of a UnicodeDecodeError."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from videopipe.errors import InputError

__all__ = ["read_jsonl", "read_utf8"]


def read_utf8(path: str | Path, what: str) -> str:
    """The text of ``path``; ``what`` names the file in errors (e.g. ``"questions file"``)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"{what} {p} cannot be read ({e.strerror or e})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError(
            f"{what} {p}: line {line} is not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
        ) from None


def read_jsonl(path: str | Path, what: str) -> Iterator[tuple[int, object]]:
    """The values of the JSON lines of ``path`` with their line numbers (blank lines skipped);
    a line that is not JSON is an InputError naming ``path`` and the line."""
    for n, line in enumerate(read_utf8(path, what).splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from None
