"""Subtitle retrieval on real semantics: a 60-minute video whose subtitles are 40 distinct
topics; 20 paraphrased queries (no subtitle wording reused) must find the clip holding the
matching line in the top 3 for >= 90% of them, with the real all-MiniLM-L6-v2 embedder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from filelock import FileLock

from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.search import Retriever, retrieve_clips
from videopipe.testing.videos import video_cache_dir

DURATION_S = 3600
TOPICS = [
    "The chef dices onions and garlic before adding them to the simmering tomato sauce.",
    "A rocket lifts off from the launch pad and climbs toward orbit.",
    "The goalkeeper dives and saves a penalty in the final minute of the match.",
    "Heavy snowfall has closed the mountain pass and stranded dozens of trucks.",
    "The pianist performs a Chopin nocturne in the concert hall.",
    "Doctors explain how the new vaccine trains the immune system.",
    "A stock market crash wiped out billions in shareholder value overnight.",
    "The kitten chases a ball of yarn across the living room floor.",
    "Archaeologists uncover a Roman mosaic beneath the old market square.",
    "Firefighters battle a wildfire spreading through the dry pine forest.",
    "The programmer fixes a bug that crashed the payment server.",
    "Farmers harvest ripe wheat with combine harvesters at sunset.",
    "A humpback whale breaches beside the small fishing boat.",
    "The students prepare for their final chemistry exam in the library.",
    "A carpenter sands and varnishes an oak dining table.",
    "The airline cancels hundreds of flights because of a pilots' strike.",
    "Astronomers photograph a distant galaxy with the new telescope.",
    "The marathon runner crosses the finish line to win the race.",
    "A baker pulls fresh sourdough loaves out of the wood-fired oven.",
    "The city council votes to build a new bicycle lane downtown.",
    "Divers explore a coral reef full of colorful tropical fish.",
    "The mechanic replaces the brake pads on an old pickup truck.",
    "A violent thunderstorm knocks out power across the region.",
    "The toddler takes her first steps toward her smiling father.",
    "Engineers test a self-driving car on a closed track.",
    "The museum opens an exhibition of impressionist paintings.",
    "Beekeepers collect honey from the hives in the orchard.",
    "The detective interrogates a suspect about the stolen jewels.",
    "A volcano erupts, sending ash high into the sky.",
    "The gardener prunes rose bushes in early spring.",
    "Scientists sequence the genome of an ancient bacterium.",
    "The tennis player serves an ace to win the championship point.",
    "A cargo ship is stuck in the canal, blocking global trade.",
    "The band tunes their guitars backstage before the rock concert.",
    "Workers repair a pothole on the busy highway at night.",
    "The president signs a climate treaty with world leaders.",
    "A hiker reaches the summit of the snowy peak at dawn.",
    "The barista pours latte art into a cup of espresso.",
    "Children build a sandcastle on the sunny beach.",
    "The surgeon performs a delicate heart transplant operation.",
]
# topic index -> a paraphrase that avoids the subtitle's words
QUERIES = {
    0: "cooking a pasta sauce with chopped vegetables",
    2: "soccer keeper stops a spot kick late in the game",
    4: "classical music recital on a grand instrument",
    6: "shares plunge and investors lose fortunes",
    8: "ancient floor artwork found during an excavation",
    10: "software engineer repairing a checkout system outage",
    12: "huge sea mammal jumping out of the ocean near sailors",
    14: "woodworker finishing furniture",
    16: "deep space pictures from an observatory",
    18: "bread coming out of an oven",
    20: "scuba swimming among reef animals",
    22: "storm leaves homes without electricity",
    24: "autonomous vehicle trial",
    26: "gathering sweet stuff made by insects",
    28: "lava mountain explodes with smoke",
    30: "DNA analysis of old microbes",
    32: "freighter blocks a shipping route",
    34: "road crews fixing asphalt after dark",
    36: "climber on top of a mountain at sunrise",
    38: "kids playing with sand at the seaside",
}


def cue_time(i: int) -> tuple[float, float]:
    start = 30.0 + 85.0 * i
    return start, start + 4.0


@pytest.fixture(scope="module")
def hour_video(tiny_video, write_srt, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-minute, 32x32, 1 fps video (cached) with an .srt of the topics, in its own folder."""
    cached = video_cache_dir() / "retrieval-hour-32px-1fps.mp4"
    with FileLock(str(cached) + ".lock"):
        if not cached.exists():
            tmp = cached.with_name("retrieval-hour.tmp.mp4")
            tiny_video(tmp, duration_s=DURATION_S)
            tmp.replace(cached)
    folder = tmp_path_factory.mktemp("hour")
    video = folder / "lecture.mp4"
    video.symlink_to(cached)
    write_srt(folder / "lecture.srt", [(*cue_time(i), t) for i, t in enumerate(TOPICS)])
    return video


def _holds(hit, topic: int) -> bool:
    a, b = cue_time(topic)
    return hit.start_s < b and hit.end_s > a


@pytest.fixture(scope="module")
def hour_index(hour_video: Path, minilm, tmp_path_factory: pytest.TempPathFactory):
    idx = tmp_path_factory.mktemp("hour-idx") / "idx"
    return idx, index_paths([hour_video.parent], idx, IndexOptions(embedder=minilm))


def test_paraphrased_queries_find_their_clip_in_the_top_3(hour_index, minilm) -> None:
    idx, report = hour_index
    assert report.embedded == 1 and report.failed == {}
    # 40 cues of 4 s in 20 s windows with a 15 s stride: each cue lies in one or two windows
    assert len(TOPICS) <= report.total_clips <= 2 * len(TOPICS)
    retriever = Retriever(idx, embedder=minilm)
    # queries embedded in one batch (one-at-a-time is the same path, see search() below)
    qvecs = minilm.embed_texts(list(QUERIES.values())).numpy()
    found = {}
    for (topic, query), qv in zip(QUERIES.items(), qvecs):
        assert len(_content_words(query) & _content_words(TOPICS[topic])) <= 1  # a paraphrase
        hits = retriever.search_vector(qv, 3)
        assert len(hits) == 3 and hits[0].score >= hits[-1].score
        found[topic] = any(_holds(h, topic) for h in hits)
    misses = [QUERIES[t] for t, ok in found.items() if not ok]
    assert sum(found.values()) >= 18, f"missed: {misses}"
    one, batched = retriever.search(QUERIES[16], 3), retriever.search_vector(qvecs[8], 3)
    assert [h.start_s for h in one] == [h.start_s for h in batched]
    assert [h.score for h in one] == pytest.approx([h.score for h in batched], abs=1e-4)


_STOP = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "with", "and", "from", "by", "out", "into"}


def _content_words(s: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", s.lower()) if w not in _STOP}


def test_retrieve_clips_for_one_video_with_and_without_an_index(hour_video: Path, hour_index, minilm) -> None:
    # no index: segment + embed on the fly
    hits = retrieve_clips(
        hour_video, "telescope pictures of faraway galaxies", k=2, embedder=minilm, context_s=3
    )
    assert len(hits) == 2
    assert _holds(hits[0], 16)
    a, _ = cue_time(16)
    assert hits[0].start_s <= a - 3 + 15 and hits[0].end_s - hits[0].start_s == pytest.approx(26.0)
    assert hits[0].video == str(hour_video)
    # with an index holding the video: same answer, read from the index (no embedding of clips)
    calls = minilm.calls
    indexed = retrieve_clips(
        hour_video,
        "telescope pictures of faraway galaxies",
        k=2,
        index_dir=hour_index[0],
        embedder=minilm,
        context_s=3,
    )
    assert [(h.start_s, h.end_s) for h in indexed] == [(h.start_s, h.end_s) for h in hits]
    assert [h.match for h in indexed] == [h.match for h in hits]
    assert hits[0].match is not None and hits[0].match.source == "subtitles"
    # the query, and the lines of the two hits in one batch (to name the line that matched):
    # the clips' vectors come from the index
    assert minilm.calls == calls + 2
