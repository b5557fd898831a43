"""The generated scripts the text tests and the acceptance tests rely on (no models)."""

from __future__ import annotations

import pytest

from videopipe.testing.slides import default_slides
from videopipe.testing.speech import normalize_words, talk_script, word_error_rate


def test_the_talk_has_20_distinct_topics_that_do_not_overlap() -> None:
    script = talk_script()
    topics = [t for _, _, t in script]
    assert len(set(topics)) >= 20
    starts = [s for s, _, _ in script]
    assert starts == sorted(starts) and starts[-1] < 1800.0 - 30
    by_topic: dict[str, set[str]] = {}
    for _, text, topic in script:
        by_topic.setdefault(topic, set()).update(normalize_words(text))
    # the first start of every topic is at least 60 s after the previous topic's
    firsts = sorted({t: s for s, _, t in reversed(script)}.values())
    assert min(b - a for a, b in zip(firsts, firsts[1:])) >= 60.0
    with pytest.raises(ValueError, match="needs"):
        talk_script(duration_s=120.0)


def test_word_error_rate() -> None:
    assert word_error_rate("The cat sat.", "the cat sat") == 0.0
    assert word_error_rate("the cat sat on the mat", "the cat sat on mat") == pytest.approx(1 / 6)
    assert word_error_rate("in 1969", "in nineteen sixty nine") == 0.0
    assert word_error_rate("a b", "c d e") == pytest.approx(3 / 2)


def test_slides_have_distinct_titles_and_lengths() -> None:
    slides = default_slides()
    assert len(slides) >= 15 and len({s.title for s in slides}) == len(slides)
    assert all(a.end_s == b.start_s for a, b in zip(slides, slides[1:]))
    assert len({s.end_s - s.start_s for s in slides}) >= 12
