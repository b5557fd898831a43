"""locate on generated lectures: paraphrased queries (no word of the talk) find the sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path

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


def test_paraphrased_queries_find_their_sentence(videopipe, speech_installed, tmp_path: Path) -> None:
    """The issue's floor (85%) through the installed executable: ``batch --job locate`` runs every
    query of both sets (the topics' own and the held-out paraphrases) in one process."""
    talks = tmp_path / "talks"
    talks.mkdir()
    facts = {}
    for seed in (3, 8):  # other topics, voices and lengths than the benchmark's tuning talks
        path, lecture = short_lecture(seed)
        (talks / f"talk-{seed}.mp4").symlink_to(path)  # the same file: its transcript is cached
        for fact in lecture.facts:
            for query in (fact.query, HELD_OUT_QUERIES[fact.topic]):
                facts[(f"talk-{seed}.mp4", query)] = fact
    out = tmp_path / "found.jsonl"
    queries = [x for q in sorted({q for _, q in facts}) for x in ("-q", q)]
    r = videopipe("batch", str(talks), "--job", "locate", *queries, "--out", str(out), timeout=900)
    assert r.returncode == 0, r.stderr
    hits = total = 0
    missed: list[tuple[str, float, float, float]] = []
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        fact = facts.get((Path(rec["video"]).name, rec["question"]))
        if fact is None:  # a query about the other talk
            continue
        best = rec["answer"]["spans"][0]
        hit = best["start_s"] < fact.end_s and best["end_s"] > fact.start_s
        hits += hit
        total += 1
        if not hit:
            missed.append((rec["question"], fact.start_s, best["start_s"], best["end_s"]))
    # the floor. Measured 18 of 20 with the topic score (2026-12-06, a fresh machine, where
    # the hubness scoring alone found 16: the misses are sentences the ASR garbled)
    assert total == len(facts) >= 20 and hits / total >= 0.85, (hits, total, missed)


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
