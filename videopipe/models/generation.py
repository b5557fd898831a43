"""Generation: the language model run over the spliced inputs with a KV cache, greedy or
sampled (:class:`~videopipe.models.contract.GenerationOptions`), whole or streamed.
:class:`GenerationMixin` is the half of :class:`~videopipe.models.base.TransformersVideoLLM`
that does it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from videopipe.models.contract import Generation, GenerationOptions

if TYPE_CHECKING:
    import torch

    from videopipe.models.contract import Turn
    from videopipe.models.splice import SplicedInputs
    from videopipe.types import VisualTokens

__all__ = ["GenerationMixin", "Picker"]


class GenerationMixin:
    """:meth:`generate` and :meth:`generate_stream` over :meth:`build_inputs` (see the module
    docstring). Mixed into :class:`~videopipe.models.base.TransformersVideoLLM`."""

    language_model_path: ClassVar[str] = "model.language_model"
    model: Any
    tokenizer: Any
    device: Any
    build_inputs: Callable[..., SplicedInputs]
    _report: Callable[[str, int, int], None]
    #: what the last generation that ran to its end cost (set by :meth:`_token_ids`)
    last_generation: Generation | None = None

    @property
    def _language_model(self) -> Any:
        module = self.model
        for name in self.language_model_path.split("."):
            module = getattr(module, name)
        return module

    def _run_lm(
        self,
        embeds: torch.Tensor,
        positions: torch.Tensor,
        *,
        past: Any = None,
        past_len: int = 0,
        lm_kwargs: Mapping[str, Any] | None = None,
        logits_to_keep: int | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """Logits of ``embeds`` at ``positions`` after ``past`` (a KV cache of ``past_len``
        tokens; None: the start), and the cache extended by them; only the last
        ``logits_to_keep`` rows of logits when given."""
        import torch

        # an explicit all-ones mask: with gapped position ids (compressed tokens) transformers
        # would otherwise read the gaps as packed sequences and block the attention between them
        mask = torch.ones(1, past_len + embeds.shape[1], dtype=torch.long, device=embeds.device)
        if positions.shape[0] == 1:  # 1-D RoPE: [batch, L]; M-RoPE: [3, batch, L]
            positions = positions[0]
        out = self._language_model(
            inputs_embeds=embeds,
            position_ids=positions,
            attention_mask=mask,
            past_key_values=past,
            use_cache=True,
            **(lm_kwargs or {}),
        )
        hidden = out.last_hidden_state
        if logits_to_keep is not None:
            hidden = hidden[:, -logits_to_keep:]
        return self.model.lm_head(hidden), out.past_key_values

    def text_embeddings(self, text: str) -> torch.Tensor:
        """The LLM's input embeddings of ``text``'s tokens, float32 [L, D] on the CPU.

        Visual tokens live in the same space after the projector/merger, so the pipeline uses
        these to rank evidence by question relevance and as the ``query`` compressor's query."""
        import torch

        ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0].to(
            self.device
        )
        with torch.inference_mode():
            return self.model.get_input_embeddings()(ids).float().cpu()

    def forward_logits(self, tokens: VisualTokens, question: str) -> torch.Tensor:
        """Logits [L, vocab] (float32) of the spliced prompt, one row per prompt token."""
        import torch

        inp = self.build_inputs(tokens, question)
        with torch.inference_mode():
            logits, _ = self._run_lm(inp.inputs_embeds, inp.position_ids, lm_kwargs=inp.lm_kwargs)
        return logits[0].float()

    def count_text_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's tokenizer."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self,
        tokens: VisualTokens,
        question: str,
        *,
        options: GenerationOptions | None = None,
        max_new_tokens: int = 128,
        **sampling: Any,
    ) -> str:
        """Answer ``question`` about the (possibly compressed) ``tokens``.

        ``options`` (a :class:`~videopipe.models.contract.GenerationOptions`), or the keywords
        ``max_new_tokens`` and transformers-style ``do_sample``, ``temperature``, ``top_k``,
        ``top_p``, ``seed`` (:meth:`GenerationOptions.from_keywords`: greedy unless
        ``do_sample``). Stops at the model's end-of-turn token or after ``max_new_tokens``."""
        opts = options or GenerationOptions.from_keywords(max_new_tokens=max_new_tokens, **sampling)
        out = list(self._token_ids(tokens, question, opts))
        return self.tokenizer.decode(out, skip_special_tokens=True).strip()

    def generate_stream(
        self,
        tokens: VisualTokens,
        question: str,
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        options: GenerationOptions | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[str]:
        """The answer of :meth:`generate` in pieces as the tokens are decoded (whole words, through
        transformers' ``TextIteratorStreamer``); joined they equal ``generate``'s text with the
        same options (leading and trailing whitespace is stripped the same way). ``options``, or
        ``max_new_tokens`` and ``temperature`` (0: greedy; above 0: sampling at that
        temperature). Closing the iterator stops the generation after the current token.
        ``history``: the conversation's earlier turns (written through the chat template)."""
        import torch
        from transformers import TextIteratorStreamer

        opts = options or GenerationOptions(max_new_tokens=max_new_tokens, temperature=temperature)
        streamer = TextIteratorStreamer(self.tokenizer, skip_special_tokens=True)

        def pieces() -> Iterator[str]:
            for tok in self._token_ids(tokens, question, opts, history):
                streamer.put(torch.tensor([tok]))
                yield from _drain(streamer)
            streamer.end()
            yield from _drain(streamer)

        yield from _stripped(pieces())

    def _token_ids(
        self,
        tokens: VisualTokens,
        question: str,
        options: GenerationOptions,
        history: Sequence[Turn] = (),
    ) -> Iterator[int]:
        """The answer's token ids, one at a time (the decoding loop of :meth:`generate` and
        :meth:`generate_stream`); once they are all out, :attr:`last_generation` says what the
        answer cost (prompt and answer tokens, why it stopped)."""
        import torch

        self.last_generation = None
        inp = self.build_inputs(tokens, question, history)
        pick = Picker(options)
        stop = self._stop_ids()
        limit = options.max_new_tokens
        count = 0
        embed = self.model.get_input_embeddings()
        n_pos = inp.position_ids.shape[0]
        length = inp.inputs_embeds.shape[1]
        with torch.inference_mode():
            self._report("prefill", 0, length)
            logits, past = self._run_lm(
                inp.inputs_embeds, inp.position_ids, lm_kwargs=inp.lm_kwargs, logits_to_keep=1
            )
            self._report("prefill", length, length)
            pos = inp.next_position
            prompt_len, reason = length, "length"
            for _ in range(limit):
                nxt = pick(logits[0, -1])
                if nxt in stop:
                    reason = "stop"
                    break
                count += 1
                self._report("generate", count, limit)
                yield nxt
                if count == limit:
                    break
                ids = torch.tensor([[nxt]], device=self.device)
                p = torch.full((n_pos, 1, 1), pos, dtype=torch.long, device=self.device)
                logits, past = self._run_lm(embed(ids), p, past=past, past_len=length, logits_to_keep=1)
                length += 1
                pos += 1
            self.last_generation = Generation(prompt_len, count, reason)

    def _stop_ids(self) -> set[int]:
        ids: set[int] = set()
        for src in (getattr(self.model, "generation_config", None), self.model.config, self.tokenizer):
            e = getattr(src, "eos_token_id", None)
            if e is None:
                continue
            ids.update(e if isinstance(e, (list, tuple)) else [e])
        return {int(i) for i in ids}


def _drain(streamer: Any) -> Iterator[str]:
    """The text a ``TextIteratorStreamer`` has finalized so far (without blocking)."""
    import queue

    while True:
        try:
            text = streamer.text_queue.get_nowait()
        except queue.Empty:
            return
        if text is not streamer.stop_signal and text:
            yield text


def _stripped(pieces: Iterable[str]) -> Iterator[str]:
    """``pieces`` as if their join were ``.strip()``-ed: leading whitespace is dropped and
    whitespace is held back until more text follows it."""
    started, held = False, ""
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        body = piece.rstrip()
        if body:
            yield held + body
            held = piece[len(body) :]
        else:
            held += piece


class Picker:
    """Next-token choice of :class:`GenerationOptions`: greedy (temperature 0), or sampling at
    the temperature with top-k / top-p."""

    def __init__(self, options: GenerationOptions) -> None:
        import torch

        self.options = options
        self.gen = torch.Generator().manual_seed(options.seed) if options.seed is not None else None

    def __call__(self, logits: torch.Tensor) -> int:
        import torch

        o = self.options
        if not o.samples:
            return int(torch.argmax(logits))
        x = logits.float().cpu() / o.temperature
        if o.top_k is not None:
            kth = torch.topk(x, min(o.top_k, x.numel())).values[-1]
            x = x.masked_fill(x < kth, float("-inf"))
        probs = torch.softmax(x, -1)
        if o.top_p is not None:
            sp, si = torch.sort(probs, descending=True)
            cut = torch.cumsum(sp, 0) - sp > o.top_p
            sp[cut] = 0
            probs = torch.zeros_like(probs).scatter(0, si, sp)
        return int(torch.multinomial(probs / probs.sum(), 1, generator=self.gen))
