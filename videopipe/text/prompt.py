"""The video's timed text in the prompt: which lines go in (:func:`lines_for_prompt`) and how
they are written (:func:`subtitle_block`, :func:`seconds_block`).

Which lines: those of the sampled spans (:func:`sampled_spans`: around every selected frame,
so a whole-video uniform selection covers the whole video and a ``--retrieve`` selection only
its clips), within a budget of text tokens. Over budget, lines that share more words with the
question go first (ties: earlier first), and the kept lines are written in time order, so the
LLM reads a transcript, not a ranking.

How: the Video-MME "with subtitles" prompt (``This video's subtitles are listed below:``), the
standard way to give a video LLM the speech, with each line's start time as ``[mm:ss]`` (the
default of :class:`~videopipe.models.contract.VideoLLM`); Qwen3-VL, whose processor writes
frame times as ``<t seconds>``, gets its lines timed the same way (:func:`seconds_block`).
Screen text is marked ``(on screen)``, so the model can tell what was said from what was shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from videopipe.text.timeline import TextLine, TextSource, Timeline

__all__ = [
    "SUBTITLE_HEADER",
    "best_line",
    "lines_for_prompt",
    "sampled_spans",
    "seconds_block",
    "subtitle_block",
    "words",
]

SUBTITLE_HEADER = "This video's subtitles are listed below:"
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "the a an and or of to in on at is are was were be been it this that what which who when where "
    "how why does do did for with from by as about video".split()
)


def words(text: str) -> set[str]:
    """Lower-case content words of ``text`` (stop words and 1-2 letter words dropped)."""
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def sampled_spans(times_s: Sequence[float], *, min_half_width_s: float = 5.0) -> list[tuple[float, float]]:
    """The spans the selected frames at ``times_s`` stand for: each frame covers half the
    typical (median) gap to its neighbours on each side, at least ``min_half_width_s``;
    overlapping spans are joined."""
    t = np.sort(np.asarray(times_s, np.float64))
    if t.shape[0] == 0:
        return []
    gaps = np.diff(t)
    half = max(min_half_width_s, float(np.median(gaps)) / 2 if gaps.shape[0] else 0.0)
    spans: list[tuple[float, float]] = []
    for x in t.tolist():
        a, b = max(0.0, x - half), x + half
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def lines_for_prompt(
    timeline: Timeline,
    spans: Sequence[tuple[float, float]],
    question: str,
    *,
    max_tokens: int,
    count_tokens: Callable[[str], int],
) -> list[TextLine]:
    """The lines of ``timeline`` inside ``spans`` that fit ``max_tokens`` (see the module
    docstring for the order of preference), in time order."""
    inside = [ln for ln in timeline.lines if any(ln.overlaps(a, b) for a, b in spans)]
    if not inside:
        return []
    costs = [count_tokens(ln.text) + 4 for ln in inside]  # + the time stamp and line break
    if sum(costs) <= max_tokens:
        return inside
    q = words(question)
    order = sorted(range(len(inside)), key=lambda i: (-len(words(inside[i].text) & q), i))
    kept, used = [], 0
    for i in order:
        if used + costs[i] <= max_tokens:
            kept.append(i)
            used += costs[i]
    return [inside[i] for i in sorted(kept)]


def _mmss(t: float) -> str:
    s = int(t)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def _mark(line: TextLine) -> str:
    return f"(on screen) {line.text}" if line.source is TextSource.screen else line.text


def subtitle_block(lines: Sequence[TextLine]) -> str:
    """Video-MME's subtitle prompt, each line with its start as ``[mm:ss]``."""
    body = "\n".join(f"[{_mmss(ln.start_s)}] {_mark(ln)}" for ln in lines)
    return f"{SUBTITLE_HEADER}\n{body}\n"


def seconds_block(lines: Sequence[TextLine]) -> str:
    """The same, timed the way Qwen3-VL's processor times frames: ``<12.5 seconds>``."""
    body = "\n".join(f"<{ln.start_s:.1f} seconds> {_mark(ln)}" for ln in lines)
    return f"{SUBTITLE_HEADER}\n{body}\n"


def best_line(lines: Sequence[TextLine], question: str) -> tuple[TextLine, float] | None:
    """The line sharing the largest part of the question's content words, with that part
    (0..1]; None when no line shares any."""
    q = words(question)
    if not q:
        return None
    scored = [(len(words(ln.text) & q) / len(q), -i, ln) for i, ln in enumerate(lines)]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return None
    share, _, line = max(scored, key=lambda s: (s[0], s[1]))
    return line, share
