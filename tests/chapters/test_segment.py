"""The boundary finder, the titles and the output formats, on plain data (no media, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from videopipe.chapters.formats import to_ffmetadata, to_vtt, to_youtube
from videopipe.chapters.segment import SegmentConfig, find_boundaries, gap_scores
from videopipe.chapters.titles import central_index, shorten_title
from videopipe.chapters.types import Chapter, Chapters
from videopipe.errors import ConfigError
from videopipe.testing.lecture import boundary_f1


def _topics(
    lengths: list[int], *, seed: int = 0, dim: int = 32
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """One line every 5 s; each topic's lines are noisy copies of its own direction."""
    rng = np.random.default_rng(seed)
    rows, starts, truth, t = [], [], [], 0.0
    for k, n in enumerate(lengths):
        centre = rng.normal(size=dim)
        if k:
            truth.append(t)
        for _ in range(n):
            v = centre + rng.normal(scale=0.8, size=dim)
            rows.append(v / np.linalg.norm(v))
            starts.append(t)
            t += 5.0
    return np.array(rows), np.array(starts), truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_topic_blocks_give_their_boundaries(seed: int) -> None:
    lengths = list(np.random.default_rng(seed).integers(8, 40, size=8))
    emb, starts, truth = _topics(lengths, seed=seed)
    times, scores, signals = gap_scores(starts, starts + 3.0, emb)
    found = find_boundaries(times, scores, signals, duration_s=float(starts[-1] + 5.0))
    assert boundary_f1([b.time_s for b in found], truth, tolerance_s=5.0) >= 0.9
    assert all("text" in b.signals for b in found)


def test_one_topic_has_no_boundary_and_max_len_splits_it() -> None:
    emb, starts, _ = _topics([60])
    times, scores, signals = gap_scores(starts, starts + 3.0, emb)
    assert find_boundaries(times, scores, signals, duration_s=300.0) == []
    cfg = SegmentConfig(min_len_s=30.0, max_len_s=100.0)
    found = find_boundaries(times, scores, signals, duration_s=300.0, cfg=cfg)
    edges = [0.0, *(b.time_s for b in found), 300.0]
    assert len(found) >= 2 and all(30.0 <= b - a <= 100.0 for a, b in zip(edges, edges[1:]))


def test_min_len_keeps_boundaries_apart_and_a_screen_change_tips_the_balance() -> None:
    emb, starts, truth = _topics([10, 3, 10])  # a 15 s topic between two long ones
    times, scores, signals = gap_scores(starts, starts + 3.0, emb)
    found = find_boundaries(times, scores, signals, duration_s=120.0, cfg=SegmentConfig(min_len_s=20.0))
    assert all(abs(a.time_s - b.time_s) >= 20.0 for a, b in zip(found, found[1:]))
    flat = np.tile(emb[:1], (len(emb), 1))  # no text signal at all: only the slide change
    times, scores, signals = gap_scores(starts, starts + 3.0, flat, screen_changes=[(50.0, 1.0)])
    cfg = SegmentConfig(threshold=0.3)
    assert [b.time_s for b in find_boundaries(times, scores, signals, duration_s=120.0, cfg=cfg)] == [50.0]


def test_a_cut_in_the_silence_is_where_the_boundary_goes() -> None:
    emb, starts, truth = _topics([10, 10])
    times, _, signals = gap_scores(starts, starts + 3.0, emb, cuts=[truth[0] - 1.0])
    g = int(np.argmin(np.abs(starts[1:] - truth[0])))
    assert times[g] == truth[0] - 1.0 and "cut" in signals[g]


@pytest.mark.parametrize(
    ("kwargs", "words"), [({"min_len_s": 0}, "min length"), ({"max_len_s": 50}, "twice")]
)
def test_bad_lengths_are_named(kwargs: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        SegmentConfig(**kwargs)


def test_titles() -> None:
    assert shorten_title("So, let us look at the pyramids of Egypt and the tombs of the pharaohs.") == (
        "The pyramids of Egypt and the tombs"
    )
    assert shorten_title("A guitar usually has six strings.") == "A guitar usually has six strings"
    emb = np.eye(3)[[0, 0, 0, 1]] + 0.01
    assert central_index(emb / np.linalg.norm(emb, axis=1, keepdims=True)) in (0, 1, 2)


def _result(duration: float) -> Chapters:
    return Chapters(
        "v.mp4",
        duration,
        (Chapter(0.0, 65.5, "Intro"), Chapter(65.5, duration, "Q&A; wrap=up #2")),
    )


def test_formats() -> None:
    assert to_youtube(_result(200.0)) == "00:00 Intro\n01:05 Q&A; wrap=up #2\n"
    assert to_youtube(_result(4000.0)).splitlines()[1] == "0:01:05 Q&A; wrap=up #2"
    vtt = to_vtt(_result(200.0))
    assert vtt.startswith("WEBVTT\n") and "00:01:05.500 --> 00:03:20.000\nQ&A; wrap=up #2" in vtt
    meta = to_ffmetadata(_result(200.0))
    assert (
        meta.startswith(";FFMETADATA1\n") and "START=65500\nEND=200000\ntitle=Q&A\\; wrap\\=up \\#2" in meta
    )
