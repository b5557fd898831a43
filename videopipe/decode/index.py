"""Where the frame table's public names used to live; kept so old imports still work.

The table is now split by job: :mod:`videopipe.decode.frame_table` (the record and its enums),
:mod:`videopipe.decode.build_table` (:func:`build_frame_table`, :func:`read_frame_table`),
:mod:`videopipe.decode.container` (opening a container, picking its stream),
:mod:`videopipe.decode.container_index`, :mod:`videopipe.decode.demux`,
:mod:`videopipe.decode.decoded_table`, :mod:`videopipe.decode.packet_sizes` and
:mod:`videopipe.decode.table_cache` (the on-disk format). ``build_index``/``load_index`` are
deprecated names of ``build_frame_table``/``read_frame_table`` (FAISS has a ``build_index`` too).
"""

from __future__ import annotations

import warnings
from typing import Any

from videopipe.decode.build_table import build_frame_table, read_frame_table
from videopipe.decode.container import decode_tolerant, open_container
from videopipe.decode.frame_table import Access, FrameIndex, TableSource, TruncatedVideoWarning
from videopipe.decode.packet_sizes import demux_packet_sizes, packet_sizes_for

__all__ = [
    "Access",
    "FrameIndex",
    "TableSource",
    "TruncatedVideoWarning",
    "build_frame_table",
    "decode_tolerant",
    "demux_packet_sizes",
    "open_container",
    "packet_sizes_for",
    "read_frame_table",
]

_RENAMED = {"build_index": "build_frame_table", "load_index": "read_frame_table"}


def __getattr__(name: str) -> Any:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"videopipe.decode.index.{name} is deprecated; use videopipe.decode.build_table.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return globals()[new]
