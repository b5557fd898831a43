"""Errors of values read from an index's ``videopipe-index.json`` name that file: a value
someone edited (an unknown embedder, options it does not take, a bad segmentation) is damage
to the index, not a bad option of the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from videopipe.errors import IndexStoreError, ModelError, VideoPipeError, one_line

__all__ = ["stored_config"]


@contextmanager
def stored_config(directory: str | Path) -> Iterator[None]:
    """Inside the block, values of ``directory``'s stored config are turned into objects; a
    ConfigError or a TypeError/ValueError from a constructor becomes one IndexStoreError that
    names ``videopipe-index.json``. Errors of the machine (a model not downloaded) pass."""
    try:
        yield
    except (ModelError, IndexStoreError):
        raise
    except (VideoPipeError, TypeError, ValueError) as e:
        if isinstance(e, VideoPipeError) and not isinstance(e, ValueError):  # ConfigError is one
            raise
        config = Path(directory) / "videopipe-index.json"
        raise IndexStoreError(
            f"index {directory}: {config} holds a value this videopipe cannot use ({one_line(e)}); "
            f"restore the file, or build the index again in a new --index directory"
        ) from None
