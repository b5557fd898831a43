"""locate on generated lectures: paraphrased queries (no word of the talk) find the sentence."""

from __future__ import annotations

import json
import re

from tests.chapters.conftest import short_lecture
from videopipe.testing.lecture_topics import FILLERS, HELD_OUT_QUERIES, TOPICS

_STOP = set(
    "a an the of to in on at for with by from is are was were be it its their they this that and or "
    "as so if when who what which do can will may must have has get gets up out into over under "
    "about very more most one same through not no does".split()
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower())) - _STOP


def test_the_queries_use_no_word_of_the_talks() -> None:
    said = set().union(
        *(_words(" ".join((*t.sentences, t.fact, *t.nouns))) for t in TOPICS), *map(_words, FILLERS)
    )
    for t in TOPICS:
        assert not _words(t.query) & said, (t.name, _words(t.query) & said)
        held_out = HELD_OUT_QUERIES[t.name]
        assert not _words(held_out) & said, (t.name, _words(held_out) & said)


def test_paraphrased_queries_find_their_sentence(speech_installed) -> None:
    from videopipe.chapters.job import chapter_sources
    from videopipe.embedders.text import TextEmbedder
    from videopipe.locate.job import locate
    from videopipe.text.build import load_timeline

    embedder = TextEmbedder()
    hits = total = 0
    for seed in (3, 8):
        path, lecture = short_lecture(seed)
        timeline = load_timeline(path, chapter_sources(None)[0])
        for fact in lecture.facts:
            best = locate(path, fact.query, timeline=timeline, embedder=embedder, top=3).spans[0]
            hits += best.start_s < fact.end_s and best.end_s > fact.start_s
            total += 1
    # the target is 85%; measured 80% here and 70% on the 30-minute talks
    # (benchmarks/results/locate.md): this guards against regressions below that, not the target
    assert total >= 8 and hits / total >= 0.7, (hits, total)


def test_locate_cli(videopipe, speech_installed) -> None:
    path, lecture = short_lecture(3)
    fact = lecture.facts[0]
    r = videopipe("locate", str(path), fact.query, "--json", "--top", "2", "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    spans = json.loads(r.stdout)["spans"]
    assert len(spans) == 2 and spans[0]["score"] >= spans[1]["score"]
    assert spans[0]["evidence"][0]["source"] == "speech" and spans[0]["start_s"] < spans[0]["end_s"]
    for args, words in (((fact.query, "--top", "0"), "--top must be >= 1"), (("  ",), "the query is empty")):
        r = videopipe("locate", str(path), *args)
        assert r.returncode == 2 and len(r.err_lines) == 1 and words in r.err_lines[0], r.stderr
