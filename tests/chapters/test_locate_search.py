"""The locate scoring on plain vectors (no media, no model): hubness correction and span edges."""

from __future__ import annotations

import numpy as np
import pytest

from videopipe.errors import ConfigError
from videopipe.locate.search import LocateConfig, find_spans, hubness, line_scores, topic_similarity


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_hubness_is_the_mean_similarity_to_the_nearest_others() -> None:
    emb = _unit(np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.05]]))
    h = hubness(emb, 2)
    sim = emb @ emb.T
    for i in range(4):
        others = np.sort(np.delete(sim[i], i))[-2:]
        assert h[i] == pytest.approx(others.mean())
    assert hubness(emb[:1], 3)[0] == 0.0  # alone: nothing to be close to
    # runs of lines that overlap their neighbours are not compared with them
    h_apart = hubness(emb, 1, apart=2)
    assert h_apart[0] == pytest.approx(max(sim[0, 2], sim[0, 3]))


def test_a_generic_line_loses_to_the_specific_one() -> None:
    """A filler close to the query and to every other line of its topic ranks first by cosine;
    with the hubness correction the line that is only close to the query wins."""
    rng = np.random.default_rng(0)
    topic = rng.normal(size=16)
    query = _unit(topic + rng.normal(size=16))
    generic = [_unit(topic + 0.3 * rng.normal(size=16)) for _ in range(12)]
    specific = _unit(0.6 * topic + 0.9 * (query - topic) + 0.4 * rng.normal(size=16))
    emb = np.stack([*generic[:6], specific, *generic[6:]])
    sim = emb @ query
    assert int(np.argmax(sim)) != 6
    scores = line_scores(sim, hubness(emb, 5), LocateConfig(hub_k=5))
    assert int(np.argmax(scores)) == 6


def test_spans_are_best_first_disjoint_and_grow_only_within_the_margin() -> None:
    scores = np.array([0.0, 0.5, 0.48, 0.3, 0.0, 0.0, 0.9, 0.1, 0.0])
    spans = find_spans(scores, LocateConfig(top=3, keep_margin=0.05))
    assert [(s.first, s.last) for s in spans] == [(6, 6), (1, 2), (3, 3)]
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert spans[1].line_scores[0] == (1, 0.5)
    wide = find_spans(np.array([0.5, 0.5, 0.5, 0.5, 0.5]), LocateConfig(top=1, keep_margin=0.05))
    assert (wide[0].first, wide[0].last) == (0, 1)  # at most one line each side of the best


def test_the_topic_score_is_the_query_against_the_mean_of_its_topic() -> None:
    emb = _unit(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.2, 1.0]]))
    q = _unit(np.array([1.0, 0.2]))
    sim = topic_similarity(emb, q, np.array([0, 0, 1, 1]))
    for rows in ([0, 1], [2, 3]):
        mean = emb[rows].mean(0)
        assert sim[rows] == pytest.approx([float(_unit(mean) @ q)] * 2)


def test_a_garbled_sentence_in_the_right_topic_beats_a_stray_match_elsewhere() -> None:
    """The query is about topic A (axis 0) and its own words (axis 2). The sentence that says
    it (line 2, its words garbled: axis 3) matches less than a line of topic B (axis 1) that
    shares a word with the query; the topic score puts line 2 first."""
    rows = [
        [1.0, 0, 0, 0, 0.3, 0],  # topic A
        [1.0, 0, 0, 0, 0, 0.3],
        [1.0, 0, 0.6, 1.5, 0, 0],  # the wanted sentence, garbled
        [1.0, 0, 0, 0, -0.3, 0],
        [0, 1.0, 0, 0, 0.3, 0],  # topic B
        [0, 1.0, 1.0, 0, 0, 0],  # a stray line sharing the query's words
        [0, 1.0, 0, 0, 0, 0.3],
        [0, 1.0, 0, 0, -0.3, 0],
    ]
    emb, q = _unit(np.array(rows)), _unit(np.array([0.5, 0, 1.0, 0, 0, 0]))
    topic, sim = np.array([0] * 4 + [1] * 4), emb @ q
    no_topic = line_scores(sim, np.zeros(8), LocateConfig(topic_weight=0.0))
    with_topic = line_scores(sim, np.zeros(8), LocateConfig(), topic_sim=topic_similarity(emb, q, topic))
    assert int(np.argmax(no_topic)) == 5 and int(np.argmax(with_topic)) == 2


@pytest.mark.parametrize("kwargs", [{"top": 0}, {"hub_k": 0}, {"context_lines": 0}])
def test_bad_settings_are_named(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        LocateConfig(**kwargs)
