"""videopipe.summarize: map-reduce summaries of long videos with the video LLM.

:func:`summarize` is the one entry point (``videopipe summarize``, ``Pipeline.summarize``, the
server). Chunks (:mod:`~videopipe.summarize.chunks`) are described one by one from their own
frames and lines (:mod:`~videopipe.summarize.describe`, cached per chunk so a killed run
resumes), then reduced, hierarchically when they do not fit the model's context
(:mod:`~videopipe.summarize.reduce`).
"""

from __future__ import annotations

from videopipe.summarize.types import Described, Summary

__all__ = ["Described", "Summary", "summarize"]


def __getattr__(name: str) -> object:  # summarize imports the decoders: only when used
    if name == "summarize":
        from videopipe.summarize.job import summarize

        return summarize
    raise AttributeError(name)
