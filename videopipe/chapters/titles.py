"""Chapter titles without a model: the chapter's most central sentence, shortened.

*Central*: the spoken line whose embedding is closest to the mean of the chapter's lines (what
the chapter is most about). *Shortened*: leading filler ("so", "let us look at") and the final
punctuation removed, cut to ``max_words`` words at a word boundary, trailing small words
dropped, first letter upper-case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["central_index", "shorten_title"]

_LEADING = re.compile(
    r"^(?:(?:so|now|ok(?:ay)?|well|and|but|then|here|remember that|let us|let's|look|"
    r"you can see|more closely|at)\b[\s,]*)+",
    re.IGNORECASE,
)
_SMALL = {
    "a",
    "an",
    "the",
    "of",
    "and",
    "or",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "by",
    "from",
    "is",
    "are",
}


def central_index(emb: np.ndarray) -> int:
    """The row of ``emb`` (unit rows) closest to their mean; 0 for one row."""
    if len(emb) <= 1:
        return 0
    centroid = emb.mean(axis=0)
    return int(np.argmax(emb @ centroid))


def shorten_title(sentence: str, *, max_words: int = 8) -> str:
    """A title from a sentence (see the module docstring); "" for an empty sentence."""
    text = " ".join(sentence.split()).strip(" .!?;:,\"'")
    text = _LEADING.sub("", text).strip() or text
    words = text.split()
    if len(words) > max_words:
        words = words[:max_words]
        while len(words) > 2 and words[-1].lower().strip(",") in _SMALL:
            words.pop()
    title = " ".join(words).rstrip(",;:")
    return title[:1].upper() + title[1:]


def extract_titles(texts: Sequence[Sequence[str]], embs: Sequence[np.ndarray], *, fallback: str) -> list[str]:
    """One title per chapter: its central line shortened, or ``fallback`` + number for a chapter
    with no lines."""
    out = []
    for k, (lines, emb) in enumerate(zip(texts, embs), 1):
        out.append(shorten_title(lines[central_index(emb)]) if lines else f"{fallback} {k}")
    return out
