"""The multiple-choice prompt and robust parsing of the option a model chose."""

from __future__ import annotations

import re

from videopipe.eval.dataset import LETTERS, MCItem

INSTRUCTION = "Answer with the option's letter from the given choices directly."


def build_prompt(item: MCItem) -> str:
    """Video-MME style prompt: question, lettered options, then the instruction."""
    lines = [item.question, *(f"{LETTERS[k]}. {opt}" for k, opt in enumerate(item.options)), INSTRUCTION]
    return "\n".join(lines)


_PATTERNS = [
    re.compile(r"^\W*[\(\[]([A-Za-z])[\)\]]"),  # "(B)", "[b] red"
    re.compile(r"^\s*([A-Za-z])[\.\):,](?:\s|$)"),  # "B.", "b)", "B: red"
    re.compile(r"^\s*([A-Z])(?:\s|$)"),  # "B red" (upper case only: "a red car" is text)
    # "The answer is B", "answer: (b)", "option B", "my choice is c."
    re.compile(
        r"\b(?:answer|option|choice)\s*(?:is|:)?\s*[\(\[]?([A-Za-z])[\)\]]?(?![A-Za-z])", re.IGNORECASE
    ),
]


def parse_choice(text: str, item: MCItem) -> str | None:
    """The letter the model chose, or None when it cannot be told (counted wrong).

    Accepts "B", "(B)", "B.", "b", "The answer is B", "Answer: (b) red", the option's text
    itself ("red") when exactly one option's text appears, and finally a lone upper-case
    option letter anywhere ("I'd say C")."""
    if not isinstance(text, str):
        return None
    valid = LETTERS[: len(item.options)]
    t = text.strip()
    if not t:
        return None
    if len(t) == 1 and t.upper() in valid:
        return t.upper()
    for pat in _PATTERNS:
        m = pat.search(t)
        if m and m.group(1).upper() in valid:
            return m.group(1).upper()
    low = t.lower()
    found = [
        k for k, opt in enumerate(item.options) if opt and re.search(rf"\b{re.escape(opt.lower())}\b", low)
    ]
    if len(found) == 1:
        return LETTERS[found[0]]
    letters = {m for m in re.findall(r"\b([A-Z])\b", t) if m in valid and m != "I"}
    if len(letters) == 1:
        return letters.pop()
    return None
