"""videopipe.locate: "when does X happen": the spans of a video that match a query, best first.

:func:`locate` is the one entry point (``videopipe locate``, ``Pipeline.locate``, the server):
every sentence of the timed text scored by the sentence embedder's similarity to the query less
its hubness, then spans around the best sentences (:mod:`~videopipe.locate.search`, pure numpy).
"""

from __future__ import annotations

from videopipe.locate.types import Evidence, Located, Span

__all__ = ["Evidence", "Located", "Span", "locate"]


def __getattr__(name: str) -> object:  # locate imports the text stage: only when used
    if name == "locate":
        from videopipe.locate.job import locate

        return locate
    raise AttributeError(name)
