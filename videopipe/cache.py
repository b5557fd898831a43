"""On-disk cache of encoded visual tokens, so a second question on the same video skips
decode and encode.

Key = file identity (resolved path, size, mtime, and a SHA-1 of the first and last MiB, so a
file replaced in place is not mistaken for the old one) + sampler + budget + model id + the
entry format and :data:`~videopipe.model_records.LAYOUT_VERSION` + the speed options that
change the tokens (``quantize``, ``vision_merge``) when they are set.
Entries are written atomically (temp file + rename); a corrupt entry is treated as a miss.

An entry is data only, so that whoever can write the cache folder cannot make the next ``ask``
run code: one safetensors file per entry holds the tensors, and its header's metadata the
rest as JSON (:data:`METADATA_KEY`). Nothing is unpickled. Entries of the old pickled format
(``.pt``, entry format 2) are never opened: the format is part of the key and the file name.

An entry stores the tokens' :class:`~videopipe.model_records.EncodedLayout` (as plain data
with its version). An entry written with another layout version is a miss, like a corrupt
one, so the pipeline decodes and encodes again and overwrites it: the cache only saves time
(everything in it can be made again from the video), so refusing would only make the user
delete files by hand, while a stale layout that reached ``generate`` would fail there or,
worse, place tokens wrongly. A videopipe with a new layout version computes other keys, so it
does not even read old entries; the version stored in the entry guards the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from videopipe.cache_files import read_entry, save_tensors_atomic
from videopipe.fingerprint import file_fingerprint
from videopipe.model_records import LAYOUT_VERSION, EncodedLayout
from videopipe.settings import quantizes_vision
from videopipe.types import Budget, Clip, Selection, VisualTokens

#: the safetensors metadata key whose value is the entry's JSON (everything but the tensors)
METADATA_KEY = "videopipe"
_TENSORS = ("features", "frame_idx", "time_s", "row", "col", "size")
_EXTRA = "extras."  # prefix of the tensor names of VisualTokens.extras


class TokenCache:
    """``save``/``load`` encoded tokens + the selection they came from."""

    #: the entry format (2: tokens carry an EncodedLayout, pickled; 3: safetensors + JSON)
    version = 3

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(
        self,
        video: str | Path,
        *,
        sampler: str,
        budget: Budget,
        model: str,
        quantize: str = "none",
        vision_merge: int = 0,
    ) -> str:
        """The entry key; ``quantize`` and ``vision_merge`` (the CPU speed options) enter it
        only when they change the visual tokens (``int8``'s vision tower, any merging), so runs
        that leave the vision tower as it is share their keys."""
        parts = [
            file_fingerprint(video),
            sampler,
            repr(sorted(asdict(budget).items())),
            model,
            str(self.version),
            f"layout{LAYOUT_VERSION}",
        ]
        if quantizes_vision(quantize):
            parts.append(f"quantize={quantize}")
        if vision_merge:
            parts.append(f"vision_merge={vision_merge}")
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def contains(self, key: str) -> bool:
        """True when an entry exists for ``key`` (cheap: no read; a corrupt entry still
        counts, and :meth:`load` then reports a miss)."""
        return self._path(key).is_file()

    def load(self, key: str) -> tuple[VisualTokens, Selection] | None:
        """The entry of ``key``, or None when there is none, it is corrupt, or it was written
        with another layout version (see the module docstring)."""
        return read_entry(self._path(key), METADATA_KEY, _entry, touch=False)

    def save(self, key: str, tokens: VisualTokens, selection: Selection) -> Path:
        """Write the entry of ``key``; an ``OSError`` when the cache cannot be written."""
        p = self._path(key)
        tensors = {name: getattr(tokens, name) for name in _TENSORS}
        tensors.update({_EXTRA + k: v for k, v in tokens.extras.items()})
        blob: dict[str, Any] = {
            "format": self.version,
            "layout_version": LAYOUT_VERSION,
            "layout": None if tokens.layout is None else tokens.layout.to_dict(),
            "meta": dict(tokens.meta),
            "clips": [asdict(c) for c in selection.clips],
            "sampler": selection.sampler,
            "frames_decoded": selection.frames_decoded,
        }
        save_tensors_atomic(
            p,
            {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()},
            {METADATA_KEY: json.dumps(blob, default=_plain)},
        )
        return p


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write itself in free-form ``meta`` (numbers of numpy or
    torch, arrays): their plain value, else their text."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def _entry(blob: Any, tensors: dict[str, Any]) -> tuple[VisualTokens, Selection] | None:
    """The tokens and selection an entry's JSON and tensors describe; None for another layout
    version; ``ValueError``/``KeyError``/``TypeError`` when they are malformed."""
    if not isinstance(blob, dict) or blob.get("format") != TokenCache.version:
        raise ValueError("not a token-cache entry of this format")
    if blob.get("layout_version") != LAYOUT_VERSION:
        return None  # stale: encoded again by the caller
    sampler, frames_decoded, meta = blob["sampler"], blob["frames_decoded"], blob["meta"]
    if not isinstance(sampler, str) or type(frames_decoded) is not int or not isinstance(meta, dict):
        raise TypeError("malformed token-cache entry")
    layout = blob["layout"]
    tokens = VisualTokens(
        **{name: tensors[name] for name in _TENSORS},
        extras={k[len(_EXTRA) :]: v for k, v in tensors.items() if k.startswith(_EXTRA)},
        meta=meta,
        layout=None if layout is None else EncodedLayout.from_dict(layout),
    )
    clips = tuple(Clip(**c) for c in blob["clips"])
    return tokens, Selection(clips, sampler=sampler, frames_decoded=frames_decoded)
