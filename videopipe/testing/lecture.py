"""A generated lecture whose chapters are known: topics of uneven length spoken by espeak-ng, with
slides (ffmpeg ``drawtext``) for half of the talk and none for the other half.

:func:`make_lecture` returns the video and its :class:`Lecture`: each topic's true span, every
spoken line, the slides and one *fact* per topic (a sentence said once, and a query that
paraphrases it in words the talk never says). The seed varies the topics and their order, the
topics' lengths, the voice and speed, which half has slides and when each slide changes (a few
seconds before or after its topic starts; long topics get a second slide with the same title).
Cached on disk by its arguments, like :mod:`videopipe.testing.videos`.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from videopipe.decode.probe import ffmpeg_bin
from videopipe.testing.lecture_topics import FILLERS, TOPICS, Topic
from videopipe.testing.media_cache import cached_media
from videopipe.testing.slides import _esc, _font
from videopipe.testing.speech import RATE, SpokenLine, _write_wav, synthesize

__all__ = ["Lecture", "LectureFact", "LectureSlide", "LectureTopic", "boundary_f1", "make_lecture"]

_VERSION = 2
#: the queries are the test's questions, not part of the media: read from the topics, not the cache
_QUERIES = {t.name: t.query for t in TOPICS}
VOICES = ("en-us", "en-gb", "en-us+f2", "en-gb-x-rp+m3", "en-gb-scotland")


@dataclass(frozen=True)
class LectureTopic:
    name: str
    title: str
    start_s: float  # its first sentence starts
    end_s: float  # its last sentence ends


@dataclass(frozen=True)
class LectureSlide:
    start_s: float
    end_s: float
    title: str
    body: str


@dataclass(frozen=True)
class LectureFact:
    topic: str
    text: str
    query: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Lecture:
    seed: int
    duration_s: float
    voice: str
    topics: tuple[LectureTopic, ...]
    lines: tuple[SpokenLine, ...]
    slides: tuple[LectureSlide, ...]
    facts: tuple[LectureFact, ...]

    @property
    def boundaries(self) -> list[float]:
        """The true topic changes: when each topic after the first starts."""
        return [t.start_s for t in self.topics[1:]]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Lecture:
        return cls(
            int(d["seed"]),
            float(d["duration_s"]),
            str(d["voice"]),
            tuple(LectureTopic(**x) for x in d["topics"]),
            tuple(SpokenLine(**x) for x in d["lines"]),
            tuple(LectureSlide(**x) for x in d["slides"]),
            tuple(LectureFact(**{**x, "query": _QUERIES.get(x["topic"], x["query"])}) for x in d["facts"]),
        )


def boundary_f1(found: list[float], truth: list[float], *, tolerance_s: float = 10.0) -> float:
    """F1 of ``found`` boundaries against ``truth``: each true boundary matches at most one found
    boundary within ``tolerance_s`` (greedy, nearest first)."""
    pairs = sorted((abs(f - t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth))
    used_f: set[int] = set()
    used_t: set[int] = set()
    for d, i, j in pairs:
        if d <= tolerance_s and i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
    hits = len(used_f)
    if not found and not truth:
        return 1.0
    p = hits / len(found) if found else 0.0
    r = hits / len(truth) if truth else 0.0
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _lengths(rng: np.random.Generator, n: int, total: float, lo: float, hi: float) -> list[float]:
    """``n`` uneven lengths within [lo, hi] that sum to ``total``."""
    if not n * lo <= total <= n * hi:
        raise ValueError(f"{n} topics of {lo:.0f}..{hi:.0f} s cannot fill {total:.0f} s")
    x = rng.uniform(lo, hi, n)
    for _ in range(100):
        x = np.clip(x * total / x.sum(), lo, hi)
        if abs(x.sum() - total) < 1e-6:
            break
    x += (total - x.sum()) / n
    return [float(v) for v in x]


def _plan(seed: int, duration_s: float, n_topics: int, lo_s: float, hi_s: float) -> dict:
    """What is said when, before synthesis (the spans are filled in by the real audio lengths)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(TOPICS))[:n_topics]
    lengths = _lengths(rng, n_topics, duration_s - 6.0, lo_s, hi_s)
    voice = VOICES[int(rng.integers(len(VOICES)))]
    wpm = int(rng.integers(150, 181))
    slides_first = bool(rng.integers(2))
    starts = np.concatenate([[2.0], 2.0 + np.cumsum(lengths)[:-1]])
    said = []
    for k, (i, t0, length) in enumerate(zip(order, starts, lengths)):
        topic: Topic = TOPICS[int(i)]
        pool = list(topic.sentences)
        rng.shuffle(pool)
        n_est = max(3, int(length / 5.5))
        fact_at = int(rng.integers(1, max(2, n_est // 2)))
        items = []
        for j in range(2 * n_est + 4):  # more than fit: speech stops when the topic's time is up
            if j == fact_at:
                items.append((topic.fact, True))
            elif j > 0 and rng.random() < 0.3:
                a, b = rng.choice(len(topic.nouns), 2, replace=False)
                filler = FILLERS[int(rng.integers(len(FILLERS)))]
                items.append((filler.format(a=topic.nouns[a], b=topic.nouns[b]), False))
            else:
                items.append((pool[j % len(pool)], False))
        said.append(dict(k=k, topic=int(i), start=float(t0), end=float(t0 + length), items=items))
    return dict(voice=voice, wpm=wpm, slides_first=slides_first, topics=said)


def make_lecture(
    seed: int = 0,
    *,
    duration_s: float = 1800.0,
    n_topics: int = 9,
    min_topic_s: float = 60.0,
    max_topic_s: float = 480.0,
    size: tuple[int, int] = (480, 270),
    fps: int = 2,
    cache_dir: Path | None = None,
) -> tuple[Path, Lecture]:
    """A lecture of ``duration_s`` seconds in ``n_topics`` topics of ``min_topic_s`` ..
    ``max_topic_s`` seconds (see the module docstring); about a minute to make a 30-minute one,
    once."""
    params = dict(
        v=_VERSION, seed=seed, d=duration_s, n=n_topics, lo=min_topic_s, hi=max_topic_s, size=size, fps=fps
    )

    def make(tmp: Path, workdir: Path) -> dict:
        plan = _plan(seed, duration_s, n_topics, min_topic_s, max_topic_s)
        audio, lecture = _speak(plan, seed, duration_s)
        lecture = _with_slides(lecture, plan, np.random.default_rng(seed + 1))
        wav = workdir / "a.wav"
        _write_wav(wav, audio)
        _render(tmp, wav, lecture, size=size, fps=fps)
        return lecture.to_dict()

    path, described = cached_media(
        "lecture", params, ext="mp4", meta_ext=".lecture.json", make=make, cache_dir=cache_dir
    )
    return path, Lecture.from_dict(described)


def _speak(plan: dict, seed: int, duration_s: float) -> tuple[np.ndarray, Lecture]:
    rng = np.random.default_rng(seed + 2)
    n = round(duration_s * RATE)
    audio = np.random.default_rng(seed).normal(0.0, 0.002, n).astype(np.float32)
    voiced: dict[str, np.ndarray] = {}
    lines, topics, facts = [], [], []
    for t in plan["topics"]:
        topic: Topic = TOPICS[t["topic"]]
        now, first, last = t["start"], None, t["start"]
        for text, is_fact in t["items"]:
            if text not in voiced:
                voiced[text] = synthesize(text, voice=plan["voice"], wpm=plan["wpm"])
            pcm = voiced[text]
            a = round(now * RATE)
            b = a + pcm.shape[0]
            if b / RATE > t["end"] - 0.8 and first is not None:
                break
            b = min(b, n)
            audio[a:b] += pcm[: b - a]
            line = SpokenLine(a / RATE, b / RATE, text, topic.name)
            lines.append(line)
            if is_fact:
                facts.append(LectureFact(topic.name, text, topic.query, line.start_s, line.end_s))
            first = line.start_s if first is None else first
            last = line.end_s
            now = b / RATE + float(rng.uniform(0.8, 3.0))
        topics.append(LectureTopic(topic.name, topic.title, float(first), float(last)))
    lecture = Lecture(seed, duration_s, plan["voice"], tuple(topics), tuple(lines), (), tuple(facts))
    return audio, lecture


def _with_slides(lecture: Lecture, plan: dict, rng: np.random.Generator) -> Lecture:
    """Slides for the topics that start in one half of the talk (which half: by seed)."""
    half = lecture.duration_s / 2
    topics = lecture.topics
    chosen = [k for k, t in enumerate(topics) if (t.start_s < half) == plan["slides_first"]]
    slides = []
    for k in chosen:
        t = topics[k]
        start = max(0.0, t.start_s + float(rng.uniform(-4.0, 4.0)))
        if k + 1 < len(topics):
            end = topics[k + 1].start_s + float(rng.uniform(-4.0, 4.0))
            if k + 1 not in chosen:  # the next topic has no slide: this one goes away
                end = min(end, t.end_s + 3.0)
        else:
            end = lecture.duration_s
        topic = next(x for x in TOPICS if x.name == t.name)
        bodies = [n.capitalize() for n in topic.nouns]
        if end - start > 90:  # a second slide, same title, new bullets
            mid = float(rng.uniform(start + 30, end - 30))
            slides.append(LectureSlide(start, mid, t.title, " - ".join(bodies[:3])))
            slides.append(LectureSlide(mid, end, t.title, " - ".join(bodies[3:])))
        else:
            slides.append(LectureSlide(start, end, t.title, " - ".join(bodies[:3])))
    return Lecture(
        lecture.seed,
        lecture.duration_s,
        lecture.voice,
        lecture.topics,
        lecture.lines,
        tuple(slides),
        lecture.facts,
    )


def _render(out: Path, wav: Path, lecture: Lecture, *, size: tuple[int, int], fps: int) -> None:
    w, h = size
    font = _font()
    fontarg = f"fontfile='{font}':" if font else ""
    filters = []
    for s in lecture.slides:
        on = f"enable='between(t,{s.start_s:.3f},{s.end_s - 1e-3:.3f})'"
        filters.append(f"drawbox=x=0:y=0:w=iw:h=ih:color=0x1f3a5f:t=fill:{on}")
        filters.append(
            f"drawtext={fontarg}text='{_esc(s.title)}':fontsize={h // 9}:fontcolor=white:x=(w-text_w)/2:y=h/4:{on}"
        )
        filters.append(
            f"drawtext={fontarg}text='{_esc(s.body)}':fontsize={h // 16}:fontcolor=0xdddddd:"
            f"x=(w-text_w)/2:y=h/2+h/10:{on}"
        )
    cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    cmd += ["-i", f"color=c=0x707070:s={w}x{h}:r={fps}:d={lecture.duration_s}", "-i", str(wav)]
    if filters:
        cmd += ["-vf", ",".join(filters)]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    cmd += ["-g", str(10 * fps), "-keyint_min", str(10 * fps), "-sc_threshold", "0"]
    cmd += ["-c:a", "aac", "-b:a", "48k", "-t", str(lecture.duration_s), str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to make {out.name}: {r.stderr.strip()[-400:]}")
