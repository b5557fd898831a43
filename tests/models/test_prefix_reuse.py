"""Prefix caching (``videopipe.prefix_cache``): a follow-up prompt continues from the stored KV
cache of the prompt+answer before it and prefills only its new rows, and the answer is the
same, token for token, as a whole prefill's (greedy, every family, M-RoPE included); a stored
entry is never changed by the requests that continue from it; a cache that cannot be cut at a
row is not stored, and the model falls back to a whole prefill."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch

from tests.models._vlm_helpers import make_frames
from videopipe.models.contract import GenerationOptions, Turn
from videopipe.prefix_cache import PrefixCache, PromptRows

GREEDY = GenerationOptions(max_new_tokens=10)
QUESTIONS = ("What happens in the video?", "And after that?", "Why do you say so?")


def _conversation(ad: Any, tokens: Any, cache: PrefixCache | None) -> list[tuple[list[int], Any]]:
    """Three turns, each with the ones before as history: (answer token ids, Generation)."""
    ad.prefix_cache = cache
    history: list[Turn] = [Turn("system", "You answer briefly.")]
    out = []
    try:
        for i, q in enumerate(QUESTIONS):
            ids = list(ad._token_ids(tokens, q, GREEDY, tuple(history)))
            out.append((ids, ad.last_generation))
            text = ad.tokenizer.decode(ids, skip_special_tokens=True).strip()
            history += [Turn("user", q, video=i == 0), Turn("assistant", text)]
    finally:
        ad.prefix_cache = None
    return out


def test_a_follow_up_prefills_only_its_new_rows_and_answers_the_same(
    adapters: dict[str, Any], family: str
) -> None:
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4))
    whole = _conversation(ad, tokens, None)
    cache = PrefixCache(64 * 2**20)
    reused = _conversation(ad, tokens, cache)
    assert [ids for ids, _ in reused] == [ids for ids, _ in whole]
    gens = [g for _, g in reused]
    assert [g.prompt_tokens for g in gens] == [g.prompt_tokens for _, g in whole]
    assert gens[0].cached_tokens == 0 and all(g.cached_tokens == 0 for _, g in whole)
    for before, g in zip(gens, gens[1:]):
        # the whole earlier prompt (system, video, turns) is read from the cache, not prefilled
        assert before.prompt_tokens <= g.cached_tokens < g.prompt_tokens
    assert cache.stats()["hits"] == 2 and cache.stats()["misses"] == 1


def test_another_question_about_the_same_video_reuses_its_tokens(adapters: dict[str, Any]) -> None:
    ad = adapters["qwen2_5_vl"]
    tokens = ad.encode(make_frames("qwen2_5_vl", 4))
    ad.prefix_cache = PrefixCache(64 * 2**20)
    try:
        list(ad._token_ids(tokens, "What colour is it?", GREEDY))
        second = list(ad._token_ids(tokens, "How many people are there?", GREEDY))
        gen = ad.last_generation
    finally:
        ad.prefix_cache = None
    inp = ad.build_inputs(tokens, "How many people are there?")
    last_visual = int(inp.visual_mask.nonzero()[-1])
    assert gen.cached_tokens > last_visual  # the video's rows were not prefilled again
    assert second == list(ad._token_ids(tokens, "How many people are there?", GREEDY))


def test_a_prefix_that_ends_inside_the_video_prefills_the_rest(adapters: dict[str, Any], family: str) -> None:
    # other features for the last visual token: the stored prefix ends at that row, so the
    # suffix holds a visual row (and Qwen3-VL's deepstack rows for it)
    ad = adapters[family]
    tokens = ad.encode(make_frames(family, 4))
    features = tokens.features.clone()
    features[-1] += 1.0
    changed = replace(tokens, features=features)
    question = "What happens in the video?"
    ad.prefix_cache = PrefixCache(64 * 2**20)
    try:
        list(ad._token_ids(tokens, question, GREEDY))
        reused = list(ad._token_ids(changed, question, GREEDY))
        gen = ad.last_generation
    finally:
        ad.prefix_cache = None
    inp = ad.build_inputs(changed, question)
    visual_rows = inp.visual_mask.nonzero()[:, 0]
    assert 0 < gen.cached_tokens <= int(visual_rows[-1])
    assert reused == list(ad._token_ids(changed, question, GREEDY))


def test_the_stored_entry_is_not_changed_by_a_continuation(adapters: dict[str, Any]) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 2))
    cache = PrefixCache(64 * 2**20)
    ad.prefix_cache = cache
    try:
        answer = list(ad._token_ids(tokens, "What is shown?", GREEDY))
        (entry,) = cache._entries.values()
        keys = [ly.keys.clone() for ly in entry.kv.layers]
        length = entry.kv.get_seq_length()
        text = ad.tokenizer.decode(answer, skip_special_tokens=True).strip()
        history = (Turn("user", "What is shown?", video=True), Turn("assistant", text))
        list(ad._token_ids(tokens, "Anything else?", GREEDY, history))
        assert ad.last_generation.cached_tokens > 0
    finally:
        ad.prefix_cache = None
    assert entry.kv.get_seq_length() == length
    assert all(torch.equal(k, ly.keys) for k, ly in zip(keys, entry.kv.layers))


def test_a_cache_that_cannot_be_cut_is_not_stored(
    adapters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    from videopipe.models import generation

    sliding = DynamicCache()
    sliding.layers = [DynamicLayer(), DynamicSlidingWindowLayer(sliding_window=4)]
    assert "DynamicSlidingWindowLayer" in (generation.kv_reuse_refused(sliding) or "")
    assert generation.kv_reuse_refused(DynamicCache(ddp_cache_data=[(torch.zeros(1, 1, 2, 4),) * 2])) is None

    # a model whose cache is refused answers as before, prefilling every prompt whole
    monkeypatch.setattr(generation, "kv_reuse_refused", lambda past: "a sliding window")
    ad = adapters["qwen2_5_vl"]
    tokens = ad.encode(make_frames("qwen2_5_vl", 4))
    cache = PrefixCache(64 * 2**20)
    assert _conversation(ad, tokens, cache) == _conversation(ad, tokens, None)
    assert len(cache) == 0 and cache.stats()["hits"] == 0


def test_a_model_that_does_not_reuse_ignores_the_cache(
    adapters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ad = adapters["llava_onevision"]
    monkeypatch.setattr(ad, "reuses_prefix", False)
    tokens = ad.encode(make_frames("llava_onevision", 4))
    cache = PrefixCache(64 * 2**20)
    turns = _conversation(ad, tokens, cache)
    assert all(g.cached_tokens == 0 for _, g in turns)
    assert cache.stats() == {**cache.stats(), "entries": 0, "hits": 0, "misses": 0}


# -- the store itself --------------------------------------------------------------------------------
def _rows(ids: list[int], visual: list[float] | None = None, *, pos_offset: int = 0) -> PromptRows:
    vis_at = [i for i, t in enumerate(ids) if t == 0]
    feats = torch.tensor(visual if visual is not None else [float(i) for i in vis_at]).view(-1, 1)
    n = len(ids)
    return PromptRows(
        ids=torch.tensor(ids),
        positions=(torch.arange(n) + pos_offset).view(1, n),
        visual=torch.tensor([t == 0 for t in ids]),
        visual_rows=feats,
    )


def test_rows_match_on_ids_positions_and_visual_features() -> None:
    a = _rows([5, 0, 0, 0, 7, 8])
    assert a.common_prefix(_rows([5, 0, 0, 0, 7, 8, 9])) == 6
    assert a.common_prefix(_rows([5, 0, 0, 0, 7, 3])) == 5
    assert a.common_prefix(_rows([5, 0, 0, 0, 7, 8], [1.0, 2.0, 9.0])) == 3  # the third visual row
    assert a.common_prefix(_rows([5, 0, 0, 0, 7, 8], pos_offset=1)) == 0
    assert a.common_prefix(_rows([6])) == 0


def test_the_store_keeps_its_budget_and_drops_what_a_later_turn_holds() -> None:
    cache = PrefixCache(budget_bytes=3000)
    first = _rows([5, 0, 0, 7])
    assert cache.store(first, "kv1", 100)
    longer = _rows([5, 0, 0, 7, 8, 9])
    assert cache.store(longer, "kv2", 100)
    assert len(cache) == 1  # the first turn is a prefix of the second: dropped
    entry, k = cache.lookup(_rows([5, 0, 0, 7, 8, 4]))
    assert entry is not None and entry.kv == "kv2" and k == 5
    assert not cache.store(_rows([1, 2]), "huge", 10_000)  # alone over the budget
    for i in range(10):
        cache.store(_rows([100 + i, 2, 3]), f"kv-{i}", 500)
    assert cache.nbytes <= 3000 and cache.lookup(_rows([5]))[0] is None  # the oldest went first
    assert cache.lookup(_rows([109, 2, 3, 4]))[1] == 3
