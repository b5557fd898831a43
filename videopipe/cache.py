"""On-disk cache of encoded visual tokens, so a second question on the same video skips
decode and encode.

Key = file identity (resolved path, size, mtime, and a SHA-1 of the first and last MiB, so a
file replaced in place is not mistaken for the old one) + sampler + budget + model id + the
entry format and :data:`~videopipe.models.contract.LAYOUT_VERSION`.
Entries are written atomically (temp file + rename); a corrupt entry is treated as a miss.

An entry stores the tokens' :class:`~videopipe.models.contract.EncodedLayout` (as plain data
with its version). An entry written with another layout version is a miss, like a corrupt
one, so the pipeline decodes and encodes again and overwrites it: the cache only saves time
(everything in it can be made again from the video), so refusing would only make the user
delete files by hand, while a stale layout that reached ``generate`` would fail there or,
worse, place tokens wrongly. A videopipe with a new layout version computes other keys, so it
does not even read old entries; the version stored in the entry guards the rest.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from videopipe.fingerprint import file_fingerprint
from videopipe.models.contract import LAYOUT_VERSION, EncodedLayout
from videopipe.types import Budget, Clip, Selection, VisualTokens


class TokenCache:
    """``save``/``load`` encoded tokens + the selection they came from."""

    #: the entry format (2: tokens carry an EncodedLayout)
    version = 2

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(self, video: str | Path, *, sampler: str, budget: Budget, model: str) -> str:
        parts = [
            file_fingerprint(video),
            sampler,
            repr(sorted(asdict(budget).items())),
            model,
            str(self.version),
            f"layout{LAYOUT_VERSION}",
        ]
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pt"

    def contains(self, key: str) -> bool:
        """True when an entry exists for ``key`` (cheap: no read; a corrupt entry still
        counts, and :meth:`load` then reports a miss)."""
        return self._path(key).is_file()

    def load(self, key: str) -> tuple[VisualTokens, Selection] | None:
        """The entry of ``key``, or None when there is none, it is corrupt, or it was written
        with another layout version (see the module docstring)."""
        import torch

        p = self._path(key)
        if not p.is_file():
            return None
        try:
            blob = torch.load(p, map_location="cpu", weights_only=False)
            if blob.get("layout_version") != LAYOUT_VERSION:
                return None  # stale: encoded again by the caller
            layout = blob["layout"]
            tokens = VisualTokens(
                **blob["tokens"], layout=None if layout is None else EncodedLayout.from_dict(layout)
            )
            clips = tuple(Clip(**c) for c in blob["clips"])
            sel = Selection(clips, sampler=blob["sampler"], frames_decoded=blob["frames_decoded"])
            return tokens, sel
        except Exception:  # noqa: BLE001 - a corrupt cache entry is a miss, never an error
            return None

    def save(self, key: str, tokens: VisualTokens, selection: Selection) -> Path:
        import torch

        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        blob: dict[str, Any] = {
            "tokens": {
                "features": tokens.features.detach().cpu(),
                "frame_idx": tokens.frame_idx.cpu(),
                "time_s": tokens.time_s.cpu(),
                "row": tokens.row.cpu(),
                "col": tokens.col.cpu(),
                "size": tokens.size.cpu(),
                "extras": {k: v.detach().cpu() for k, v in tokens.extras.items()},
                "meta": dict(tokens.meta),
            },
            "layout_version": LAYOUT_VERSION,
            "layout": None if tokens.layout is None else tokens.layout.to_dict(),
            "clips": [asdict(c) for c in selection.clips],
            "sampler": selection.sampler,
            "frames_decoded": selection.frames_decoded,
        }
        fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(blob, tmp)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p
