"""The steps of one answer (``Pipeline.answer``), each a function that returns a record
(``videopipe.pipeline_records``): :func:`compress` -> :class:`Compressed`, :func:`prompt_text`
-> :class:`PromptText`, :func:`generate` -> :class:`Generated`; the evidence is
``videopipe.evidence``. The pipeline times them and writes the stats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from videopipe.errors import ConfigError
from videopipe.pipeline_records import Compressed, Generated, Prepared, PromptText

if TYPE_CHECKING:
    import torch

    from videopipe.model_records import GenerationOptions
    from videopipe.protocols import Compressor, VideoLLM
    from videopipe.types import Stats, VisualTokens

__all__ = ["compress", "generate", "peak_memory_mb", "prompt_text", "question_embeddings", "stats"]


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


def prompt_text(model: VideoLLM, prepared: Prepared, question: str, *, max_text_tokens: int) -> PromptText:
    """The question with the timeline's lines of the sampled spans before it (within
    ``max_text_tokens``; each line is tokenized once, for the budget and the stats)."""
    from videopipe.text.prompt import lines_for_prompt, sampled_spans

    times = [t for clip in prepared.selection.clips for t in clip.times_s]
    spans = tuple(sampled_spans(times))
    if prepared.timeline is None or not len(prepared.timeline):
        return PromptText(prompt=model.with_text(question, []), lines=(), spans=spans, text_tokens=0)
    counted: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in counted:
            counted[text] = model.count_text_tokens(text)
        return counted[text]

    lines = tuple(
        lines_for_prompt(prepared.timeline, spans, question, max_tokens=max_text_tokens, count_tokens=count)
    )
    return PromptText(
        prompt=model.with_text(question, lines),
        lines=lines,
        spans=spans,
        text_tokens=sum(count(ln.text) for ln in lines),
    )


def generate(
    model: VideoLLM,
    tokens: VisualTokens,
    prompt: str,
    options: GenerationOptions,
    *,
    on_text: Callable[[str], None] | None = None,
) -> Generated:
    """The answer, always streamed (the pieces join to ``generate()``'s text): the first
    piece's time is the prefill a user waits through before the answer starts. ``on_text``
    gets each piece; an exception it raises stops the generation and propagates."""
    first_token_s = None
    t0 = time.perf_counter()
    pieces = []
    for piece in model.generate_stream(tokens, prompt, options=options):
        if first_token_s is None:
            first_token_s = time.perf_counter() - t0
        pieces.append(piece)
        if on_text is not None:
            on_text(piece)
    return Generated(text="".join(pieces), first_token_s=first_token_s)


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
