"""The reduce step: descriptions -> one summary, hierarchically when they do not fit.

The final prompt lists every item as ``[mm:ss-mm:ss] text``. While that prompt would not fit
``context_tokens`` (leaving ``max_new_tokens`` for the answer), consecutive items are grouped
into prompts that do fit, each group is summarised into one item spanning the group, and the
round repeats (one *level* per round). An item too long for a prompt of its own is cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from videopipe.errors import ConfigError
from videopipe.summarize.types import Described

__all__ = ["REDUCE_PROMPT", "SUMMARY_PROMPT", "reduce_descriptions"]

REDUCE_PROMPT = "These are descriptions of consecutive parts of a video. Summarise them in a few sentences:\n"
SUMMARY_PROMPT = (
    "These are descriptions of the parts of a video, in order. Write a summary of the whole video; "
    "cite the parts you use by their [start-end] times:\n"
)

#: generate(prompt, start_s, end_s) -> text: the model's answer about that span
Generate = Callable[[str, float, float], str]


def _prompt(head: str, items: Sequence[Described]) -> str:
    return head + "\n".join(f"{d.label} {d.text}" for d in items)


def reduce_descriptions(
    items: Sequence[Described],
    generate: Generate,
    count_tokens: Callable[[str], int],
    *,
    context_tokens: int,
    max_new_tokens: int,
    reserved_tokens: int = 0,
) -> tuple[str, tuple[Described, ...], int]:
    """(summary, the items of the last prompt, levels) for ``items`` in time order.
    ``reserved_tokens``: what every prompt takes beside its text (its frame, the chat template)."""
    budget = context_tokens - max_new_tokens - reserved_tokens
    head = max(count_tokens(REDUCE_PROMPT), count_tokens(SUMMARY_PROMPT))
    if budget - head < 32:
        raise ConfigError(
            f"a context of {context_tokens} tokens leaves no room for descriptions after the prompt, "
            f"{reserved_tokens} tokens of frame and chat template and {max_new_tokens} new tokens; "
            "raise --context-tokens"
        )
    per_item = (budget - head) // 2  # every group can hold at least two items: each round shrinks
    level_items = [_fit(d, per_item, count_tokens) for d in items]
    levels = 0
    while len(level_items) > 1 and count_tokens(_prompt(SUMMARY_PROMPT, level_items)) > budget:
        groups: list[list[Described]] = [[]]
        for d in level_items:
            if groups[-1] and count_tokens(_prompt(REDUCE_PROMPT, [*groups[-1], d])) > budget:
                groups.append([])
            groups[-1].append(d)
        reduced = []
        for g in groups:
            if len(g) == 1:
                reduced.append(g[0])
                continue
            a, b = g[0].start_s, g[-1].end_s
            reduced.append(
                _fit(Described(a, b, generate(_prompt(REDUCE_PROMPT, g), a, b)), per_item, count_tokens)
            )
        level_items = reduced
        levels += 1
    a, b = (level_items[0].start_s, level_items[-1].end_s) if level_items else (0.0, 0.0)
    text = generate(_prompt(SUMMARY_PROMPT, level_items), a, b) if level_items else ""
    return text, tuple(level_items), levels


def _fit(d: Described, tokens: int, count_tokens: Callable[[str], int]) -> Described:
    """``d`` with its text cut (at a word) until its line takes at most ``tokens`` tokens."""
    text = d.text
    while text and count_tokens(f"{d.label} {text}\n") > tokens:
        text = text[: max(0, int(len(text) * 0.8))].rsplit(" ", 1)[0]
    return d if text == d.text else Described(d.start_s, d.end_s, text)
