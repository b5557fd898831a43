"""Videos sent inline and videos named by the client.

* A ``data:video/...;base64,...`` URL (a small video inside the request, within
  ``--max-body-kb``) is written to a file in the store's own temporary folder; the path is the
  server's, so it is never checked against ``--allow-dir`` and never shown (the reply names the
  data URL's media type).
* A part's ``uuid`` (vLLM's) names its video: a later request may send ``{"type": "video_url",
  "uuid": U}`` without the URL. A named local path or URL is checked again on every use; a named
  inline video is kept (the last ``keep`` names; older ones are forgotten and their files
  deleted).
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from videopipe.serve.errors import ApiError

__all__ = ["VideoStore"]

_DATA = re.compile(r"data:(video/[\w.+-]+)?(;[\w=.-]+)*;base64,", re.IGNORECASE)
_SUFFIX = {"video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv"}


class VideoStore:
    """See the module docstring."""

    def __init__(self, *, keep: int = 64) -> None:
        self.keep = int(keep)
        self._dir: Path | None = None
        self._named: OrderedDict[str, tuple[str, str]] = OrderedDict()  # uuid -> (kind, ref)
        self._lock = threading.Lock()

    @staticmethod
    def is_inline(ref: str) -> bool:
        return ref[:5].lower() == "data:"

    def save_inline(self, ref: str) -> tuple[Path, str]:
        """The file the data URL ``ref`` holds, and how replies name it (``data:MEDIA_TYPE``)."""
        m = _DATA.match(ref)
        if m is None:
            raise ApiError(
                400,
                "a data: video URL must be data:video/TYPE;base64,DATA",
                param="messages",
                code="invalid_data_url",
            )
        try:
            data = base64.b64decode(ref[m.end() :], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "the data: video URL is not valid base64", param="messages") from None
        if not data:
            raise ApiError(400, "the data: video URL holds no bytes", param="messages")
        kind = (m.group(1) or "video/mp4").lower()
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="videopipe-inline-"))
            folder = self._dir
        fd, name = tempfile.mkstemp(dir=folder, suffix=_SUFFIX.get(kind, ".video"))
        with open(fd, "wb") as f:
            f.write(data)
        return Path(name), f"data:{kind}"

    def remember(self, uuid: str, kind: str, ref: str) -> None:
        """Name a video: ``kind`` ``"ref"`` (a path or URL, checked again on use) or
        ``"inline"`` (a file of this store)."""
        with self._lock:
            old = self._named.pop(uuid, None)
            self._named[uuid] = (kind, ref)
            dropped = [old] if old is not None and old != (kind, ref) else []
            while len(self._named) > self.keep:
                dropped.append(self._named.popitem(last=False)[1])
        for k, r in dropped:
            if k == "inline":
                Path(r).unlink(missing_ok=True)

    def recall(self, uuid: str) -> tuple[str, str]:
        with self._lock:
            found = self._named.get(uuid)
            if found is not None:
                self._named.move_to_end(uuid)
        if found is None or (found[0] == "inline" and not Path(found[1]).is_file()):
            raise ApiError(
                400,
                f"no video is named uuid {uuid!r} on this server; send the video with its URL and this uuid once",
                param="messages",
                code="unknown_uuid",
            )
        return found

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
