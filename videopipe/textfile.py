"""Reading the text files a user hands in (questions, queries, manifests, datasets): one
:class:`~videopipe.errors.InputError` naming the file and the line for bytes that are not
UTF-8 or a file that cannot be read, instead of a UnicodeDecodeError."""

from __future__ import annotations

from pathlib import Path

from videopipe.errors import InputError

__all__ = ["read_utf8"]


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
