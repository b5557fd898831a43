"""The steps of one answer (``Pipeline.answer``), each a function that returns a record
(``videopipe.pipeline_records``): :func:`compress` -> :class:`Compressed`, :func:`prompt_text`
-> :class:`PromptText`, :func:`generate` -> :class:`Generated`; the evidence is
``videopipe.evidence``. The pipeline times them and writes the stats.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from videopipe.errors import ConfigError
from videopipe.pipeline_records import Compressed, Generated, Prepared, PromptText

if TYPE_CHECKING:
    import torch

    from videopipe.model_records import Generation, GenerationOptions, Turn
    from videopipe.protocols import Compressor, VideoLLM
    from videopipe.types import Stats, VisualTokens

__all__ = [
    "compress",
    "generate",
    "generation_of",
    "history_text",
    "peak_memory_mb",
    "prompt_text",
    "question_embeddings",
    "stats",
]


def question_embeddings(model: VideoLLM, question: str) -> torch.Tensor | None:
    """The model's own input embeddings of the question's tokens [L, D] (the space the
    projector maps visual tokens into), or None when the adapter cannot embed text."""
    q = model.text_embeddings(question)
    return q if q is not None and len(q) else None


def compress(
    model: VideoLLM,
    compressor: Compressor,
    tokens: VisualTokens,
    question: str,
    *,
    limit: int | None,
    compressor_name: str,
) -> Compressed:
    """``tokens`` compressed for ``question`` to at most ``limit`` tokens (None: the
    compressor decides; compressor "none" sends every token), queried with the question's
    mean embedding."""
    import torch

    q = question_embeddings(model, question)
    query = None if q is None else torch.nn.functional.normalize(q.mean(0), dim=0).to(tokens.device)
    out = compressor(tokens, limit or len(tokens), query_embedding=query)
    if limit is not None and len(out) > limit:
        raise ConfigError(
            f"compressor {compressor_name!r} returned {len(out)} tokens for a budget of "
            f"{limit}; choose a compressor (e.g. 'pool' or 'temporal_merge') that honours "
            "--max-visual-tokens"
        )
    return Compressed(tokens=out, question_embedding=q)


def prompt_text(
    model: VideoLLM,
    prepared: Prepared,
    question: str,
    *,
    max_text_tokens: int,
    history: Sequence[Turn] = (),
) -> PromptText:
    """The question with the timeline's lines of the sampled spans before it (within
    ``max_text_tokens``; each line is tokenized once, for the budget and the stats), and a
    conversation's earlier turns: through the chat template where the model converses
    (``can_converse``), else written before the question (:func:`history_text`)."""
    from videopipe.text.prompt import lines_for_prompt, sampled_spans

    turns = tuple(history) if model.can_converse else ()
    before = history_text(history) if history and not model.can_converse else ""
    times = [t for clip in prepared.selection.clips for t in clip.times_s]
    spans = tuple(sampled_spans(times))
    if prepared.timeline is None or not len(prepared.timeline):
        prompt = before + model.with_text(question, [])
        return PromptText(prompt=prompt, lines=(), spans=spans, text_tokens=0, history=turns)
    counted: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in counted:
            counted[text] = model.count_text_tokens(text)
        return counted[text]

    lines = tuple(
        lines_for_prompt(prepared.timeline, spans, question, max_tokens=max_text_tokens, count_tokens=count)
    )
    return PromptText(
        prompt=before + model.with_text(question, lines),
        lines=lines,
        spans=spans,
        text_tokens=sum(count(ln.text) for ln in lines),
        history=turns,
    )


def history_text(history: Sequence[Turn]) -> str:
    """Earlier turns as text before the question (for models that take no ``history``)."""
    lines = [f"{t.role.capitalize()}: {t.text}" for t in history]
    return "Earlier in this conversation:\n" + "\n".join(lines) + "\n\n"


def generate(
    model: VideoLLM,
    tokens: VisualTokens,
    prompt: str,
    options: GenerationOptions,
    *,
    on_text: Callable[[str], None] | None = None,
    history: Sequence[Turn] = (),
) -> Generated:
    """The answer, always streamed (the pieces join to ``generate()``'s text): the first
    piece's time is the prefill a user waits through before the answer starts. ``on_text``
    gets each piece; an exception it raises stops the generation and propagates. ``history``
    (earlier turns) goes to a model that converses (``PromptText.history``)."""
    conversation = {"history": tuple(history)} if history else {}
    first_token_s = None
    t0 = time.perf_counter()
    pieces = []
    for piece in model.generate_stream(tokens, prompt, options=options, **conversation):
        if first_token_s is None:
            first_token_s = time.perf_counter() - t0
        pieces.append(piece)
        if on_text is not None:
            on_text(piece)
    text = "".join(pieces)
    return Generated(
        text=text,
        first_token_s=first_token_s,
        generation=generation_of(model, tokens, prompt, text, options.max_new_tokens),
    )


def generation_of(model: VideoLLM, tokens: VisualTokens, prompt: str, text: str, limit: int) -> Generation:
    """What the answer cost: the model's own count (``last_generation``), else the tokenizer's
    (the prompt's text and the visual tokens; "length" when the answer has ``limit`` tokens)."""
    from videopipe.model_records import Generation

    if model.last_generation is not None:
        return model.last_generation
    completion = model.count_text_tokens(text) if text else 0
    return Generation(
        prompt_tokens=len(tokens) + model.count_text_tokens(prompt),
        completion_tokens=completion,
        finish_reason="length" if completion >= limit else "stop",
    )


def stats(
    prepared: Prepared,
    compressed: Compressed,
    text: PromptText,
    generated: Generated,
    *,
    seconds: dict[str, float],
    notes: tuple[str, ...],
) -> Stats:
    """The answer's :class:`~videopipe.types.Stats` from the records of its steps."""
    from videopipe.types import Stats

    first = generated.first_token_s
    usage = generated.generation
    return Stats(
        frames_decoded=prepared.frames_decoded,
        frames_selected=prepared.selection.num_frames,
        tokens_before=len(prepared.tokens),
        tokens_after=len(compressed.tokens),
        seconds={k: round(v, 4) for k, v in seconds.items()},
        peak_memory_mb=peak_memory_mb(),
        cached=prepared.cached,
        text_lines=len(text.lines),
        text_tokens=text.text_tokens,
        text_sources=tuple(sorted({str(ln.source) for ln in text.lines})),
        notes=notes,
        first_token_s=None if first is None else round(first, 4),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        finish_reason=usage.finish_reason,
        cached_tokens=usage.cached_tokens,
    )


def peak_memory_mb() -> float:
    """The process's peak resident memory, or the GPU's peak allocation when larger (MB)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            mb = max(mb, torch.cuda.max_memory_allocated() / 2**20)
    except Exception:  # pragma: no cover
        pass
    return round(mb, 1)
