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
    from videopipe.prefix_cache import KVShape, PrefixCache, PromptRows
    from videopipe.types import VisualTokens

__all__ = ["GenerationMixin", "Picker", "copy_prefix", "kv_nbytes", "kv_reuse_refused"]


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
    #: stored KV caches of earlier prompts to continue from (see ``videopipe.prefix_cache``)
    prefix_cache: PrefixCache | None = None
    reuses_prefix: bool
    _visual_row_extras: Callable[[Mapping[str, Any]], torch.Tensor | None]
    _lm_kwargs_from: Callable[[Mapping[str, Any], int], dict[str, Any]]

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
        answer cost (prompt and answer tokens, why it stopped, the prompt tokens read from
        :attr:`prefix_cache`) and the prompt's KV cache with the answer's is stored there."""
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
            rows = self._prompt_rows(inp) if self.prefix_cache is not None and self.reuses_prefix else None
            past, start = self._reused_prefix(rows)
            self._report("prefill", 0, length)
            logits, past = self._run_lm(
                inp.inputs_embeds[:, start:],
                inp.position_ids[..., start:],
                past=past,
                past_len=start,
                lm_kwargs=self._lm_kwargs_from(inp.lm_kwargs, start),
                logits_to_keep=1,
            )
            self._report("prefill", length, length)
            pos = inp.next_position
            prompt_len, reason = length, "length"
            fed: list[int] = []  # answer tokens the KV cache holds (not the last one picked)
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
                fed.append(nxt)
                length += 1
                pos += 1
            self.last_generation = Generation(prompt_len, count, reason, cached_tokens=start)
            if rows is not None:
                self._keep_prefix(rows, fed, inp.next_position, past)

    # -- prefix caching (videopipe.prefix_cache) -------------------------------------------------
    def kv_shape(self) -> KVShape:
        """The keys and values the language model keeps per layer (what a KV cache file must
        hold to be read back: ``videopipe.prefix_store``)."""
        from videopipe.prefix_cache import KVShape

        cfg = self.model.config.get_text_config()
        heads = int(cfg.num_attention_heads)
        dtype = self.model.get_input_embeddings().weight.dtype  # not quantized: the KV's dtype
        return KVShape(
            layers=int(cfg.num_hidden_layers),
            heads=int(getattr(cfg, "num_key_value_heads", None) or heads),
            head_dim=int(getattr(cfg, "head_dim", None) or cfg.hidden_size // heads),
            dtype=str(dtype).removeprefix("torch."),
        )

    def _prompt_rows(self, inp: SplicedInputs) -> PromptRows:
        """What identifies each row of the spliced prompt (see :class:`PromptRows`)."""
        import torch

        from videopipe.prefix_cache import PromptRows

        vis = inp.inputs_embeds[0, inp.visual_mask]
        extra = self._visual_row_extras(inp.lm_kwargs)
        return PromptRows(
            ids=inp.input_ids,
            positions=inp.position_ids[:, 0],
            visual=inp.visual_mask,
            visual_rows=vis if extra is None else torch.cat([vis, extra.to(vis.dtype)], -1),
        )

    def _reused_prefix(self, rows: PromptRows | None) -> tuple[Any, int]:
        """A copy of the longest stored KV cache that ``rows`` starts with, cut to the shared
        rows, and their number (None, 0: prefill all). At least the last prompt row is left to
        prefill: its logits pick the first answer token."""
        if rows is None or self.prefix_cache is None:
            return None, 0
        entry, k = self.prefix_cache.lookup(rows)
        k = min(k, len(rows) - 1)
        if entry is None or k < 1:
            return None, 0
        return copy_prefix(entry.kv, k), k

    def _keep_prefix(self, rows: PromptRows, fed: Sequence[int], first_pos: int, past: Any) -> None:
        """Store ``past`` (the prompt's rows, then the ``fed`` answer tokens at positions from
        ``first_pos`` on) in :attr:`prefix_cache`, unless its kind cannot be cut at a prefix."""
        import torch

        from videopipe.prefix_cache import PromptRows

        if self.prefix_cache is None or kv_reuse_refused(past) is not None:
            return
        n = len(fed)
        new_pos = torch.arange(first_pos, first_pos + n, device=rows.positions.device)
        whole = PromptRows(
            ids=torch.cat([rows.ids, torch.tensor(fed, dtype=rows.ids.dtype, device=rows.ids.device)]),
            positions=torch.cat([rows.positions, new_pos.expand(rows.positions.shape[0], n)], 1),
            visual=torch.cat([rows.visual, torch.zeros(n, dtype=torch.bool, device=rows.visual.device)]),
            visual_rows=rows.visual_rows,
        )
        if past.get_seq_length() == len(whole):
            self.prefix_cache.store(whole, past, kv_nbytes(past))

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


# -- the language model's KV cache, cut and copied at a prefix ---------------------------------------
def kv_reuse_refused(past: Any) -> str | None:
    """Why the KV cache ``past`` cannot be reused at a prefix, or None when it can: only a
    transformers ``DynamicCache`` whose every layer is a plain ``DynamicLayer`` keeps every
    row it was given (a sliding-window layer drops the old rows, a quantized or linear-attention
    layer does not store them as rows), so only such a cache is cut at a row and continued."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if type(past) is not DynamicCache:
        return f"the language model's cache is a {type(past).__name__}, not a DynamicCache"
    for i, layer in enumerate(past.layers):
        if type(layer) is not DynamicLayer:
            return f"layer {i} of the cache is a {type(layer).__name__}, whose rows cannot be cut at a prefix"
    return None


def copy_prefix(past: Any, n: int) -> Any:
    """A new ``DynamicCache`` holding a copy of the first ``n`` rows of ``past`` (which is not
    changed: a stored entry is shared by the requests that continue from it)."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(ly.keys[..., :n, :], ly.values[..., :n, :]) for ly in past.layers])


def kv_nbytes(past: Any) -> int:
    """Bytes of the keys and values ``past`` holds."""
    return sum(
        int(t.numel() * t.element_size())
        for ly in past.layers
        if ly.is_initialized
        for t in (ly.keys, ly.values)
    )
