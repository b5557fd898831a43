"""Videos whose spoken content is known: espeak-ng sentences placed at known times over silence
(or low noise), muxed with a cheap video track; cached on disk like :mod:`videopipe.testing.videos`.

:func:`make_speech_video` returns the file and its :class:`SpeechScript` (when each sentence is
really heard: the synthesised audio is trimmed of espeak's leading/trailing silence, so start and
end are the first and last audible sample). :func:`talk_script` is a 30-minute talk of 24 distinct
topics, mostly silence between them (so VAD keeps ASR cheap), for index/search acceptance tests;
:func:`word_error_rate` scores a transcript against a script.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from videopipe.decode.probe import ffmpeg_bin
from videopipe.errors import MissingDependencyError
from videopipe.testing.media_cache import cached_media

__all__ = [
    "SpeechScript",
    "SpokenLine",
    "TALK_TOPICS",
    "espeak_bin",
    "make_speech_video",
    "make_talk_video",
    "normalize_words",
    "short_script",
    "synthesize",
    "talk_script",
    "word_error_rate",
]

RATE = 16_000
_VERSION = 1


@dataclass(frozen=True)
class SpokenLine:
    """A sentence heard from ``start_s`` to ``end_s``; ``topic`` groups sentences of a talk."""

    start_s: float
    end_s: float
    text: str
    topic: str = ""


@dataclass(frozen=True)
class SpeechScript:
    """What is said in a generated video, and when."""

    duration_s: float
    lines: tuple[SpokenLine, ...]

    @property
    def text(self) -> str:
        return " ".join(ln.text for ln in self.lines)

    def topics(self) -> dict[str, tuple[float, float]]:
        """Each topic's span (first start, last end), in order of appearance."""
        spans: dict[str, tuple[float, float]] = {}
        for ln in self.lines:
            a, b = spans.get(ln.topic, (ln.start_s, ln.end_s))
            spans[ln.topic] = (min(a, ln.start_s), max(b, ln.end_s))
        return spans

    def to_dict(self) -> dict:
        return {"duration_s": self.duration_s, "lines": [asdict(ln) for ln in self.lines]}

    @classmethod
    def from_dict(cls, d: dict) -> SpeechScript:
        return cls(float(d["duration_s"]), tuple(SpokenLine(**x) for x in d["lines"]))


def espeak_bin() -> str:
    for name in ("espeak-ng", "espeak"):
        found = shutil.which(name)
        if found:
            return found
    raise MissingDependencyError(
        "espeak-ng is not installed (apt-get install espeak-ng); it voices test speech"
    )


def synthesize(text: str, *, voice: str = "en-us", wpm: int = 160) -> np.ndarray:
    """``text`` spoken by espeak-ng: float32 mono at 16 kHz, leading/trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run(
            [espeak_bin(), "-v", voice, "-s", str(wpm), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav)) as w:
            rate, n = w.getframerate(), w.getnframes()
            pcm = np.frombuffer(w.readframes(n), dtype=np.int16).astype(np.float32) / 32768.0
    if rate != RATE:  # espeak-ng writes 22050 Hz; linear resampling is plenty for tests
        t = np.arange(round(pcm.shape[0] * RATE / rate)) * (rate / RATE)
        pcm = np.interp(t, np.arange(pcm.shape[0]), pcm).astype(np.float32)
    loud = np.flatnonzero(np.abs(pcm) > 0.01)
    return pcm[loud[0] : loud[-1] + 1] if loud.size else pcm[:0]


def _write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def make_speech_video(
    sentences: Sequence[tuple[float, str]] | Sequence[tuple[float, str, str]],
    *,
    duration_s: float,
    noise: float = 0.0,
    video: bool = True,
    size: str = "96x64",
    fps: int = 1,
    container: str = "mp4",
    cache_dir: Path | None = None,
) -> tuple[Path, SpeechScript]:
    """A video of ``duration_s`` seconds whose audio says each ``(start_s, text[, topic])`` at
    ``start_s`` over silence (``noise`` > 0: white noise of that amplitude), AAC in ``container``
    with a flat ``size`` video track at ``fps`` (``video=False``: audio only). Cached by the
    arguments; the script (real spoken spans) is stored beside the file."""
    items = [(float(s[0]), str(s[1]), str(s[2]) if len(s) > 2 else "") for s in sentences]
    params = dict(v=_VERSION, items=items, d=duration_s, noise=noise, video=video, size=size, fps=fps)

    def make(tmp: Path, workdir: Path) -> dict:
        n = round(duration_s * RATE)
        audio = np.zeros(n, dtype=np.float32)
        if noise > 0:
            audio += np.random.default_rng(0).normal(0.0, noise, n).astype(np.float32)
        lines = []
        for start, text, topic in sorted(items):
            pcm = synthesize(text)
            a = round(start * RATE)
            b = min(n, a + pcm.shape[0])
            if b <= a:
                raise ValueError(f"sentence at {start}s does not fit in {duration_s}s: {text!r}")
            audio[a:b] += pcm[: b - a]
            lines.append(SpokenLine(a / RATE, b / RATE, text, topic))
        wav = workdir / "a.wav"
        _write_wav(wav, audio)
        cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y"]
        if video:
            cmd += ["-f", "lavfi", "-i", f"color=c=gray:s={size}:r={fps}:d={duration_s}"]
        cmd += ["-i", str(wav)]
        if video:
            cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(10 * fps)]
        cmd += ["-c:a", "aac", "-b:a", "48k", "-t", str(duration_s), str(tmp)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"ffmpeg failed to make {tmp.name}: {r.stderr.strip()[-400:]}")
        return SpeechScript(duration_s, tuple(lines)).to_dict()

    ext = container if video else "m4a"
    path, described = cached_media(
        "speech", params, ext=ext, meta_ext=".script.json", make=make, cache_dir=cache_dir
    )
    return path, SpeechScript.from_dict(described)


# -- scripts ------------------------------------------------------------------------------------
def short_script() -> list[tuple[float, str]]:
    """Four sentences in 40 s (the ASR tests' clip)."""
    return [
        (1.0, "The quick brown fox jumps over the lazy dog."),
        (9.0, "Today we will talk about the weather in the mountains."),
        (20.0, "Please remember to bring your umbrella tomorrow morning."),
        (30.0, "Thank you for listening to this short presentation."),
    ]


#: (topic, sentences) of the 30-minute talk; each topic's words are its own
TALK_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "volcanoes",
        ("Volcanoes erupt when magma rises through the crust.", "Lava flows can bury whole towns."),
    ),
    ("bread", ("To bake bread you need flour, water, yeast and salt.", "Knead the dough for ten minutes.")),
    ("chess", ("In chess the queen is the most powerful piece.", "Castling protects your king early.")),
    ("bees", ("Honey bees dance to tell the hive where flowers are.", "A queen bee lays thousands of eggs.")),
    ("bicycles", ("Check your bicycle tires and brakes before a ride.", "Oil the chain every few weeks.")),
    (
        "moon",
        ("The moon has no air and no weather.", "Astronauts first walked on it in nineteen sixty nine."),
    ),
    (
        "coffee",
        ("Coffee beans are roasted to bring out their flavor.", "Espresso is brewed under high pressure."),
    ),
    (
        "sharks",
        ("Sharks have lived in the oceans for millions of years.", "They can smell blood from far away."),
    ),
    ("taxes", ("File your income tax return before the deadline.", "Keep your receipts for deductions.")),
    ("guitar", ("A guitar usually has six strings.", "Practice chords slowly before you play fast.")),
    (
        "rainforest",
        ("Rainforests hold more than half of the world's species.", "Logging destroys them quickly."),
    ),
    ("sleep", ("Adults need about eight hours of sleep each night.", "Screens before bed keep you awake.")),
    (
        "pyramids",
        ("The pyramids of Egypt were built as tombs for pharaohs.", "Workers moved huge stone blocks."),
    ),
    ("vaccines", ("Vaccines train the immune system to fight disease.", "Most are given to young children.")),
    ("football", ("A football match lasts ninety minutes.", "The goalkeeper may use their hands.")),
    ("recycling", ("Rinse plastic bottles before you recycle them.", "Glass can be recycled forever.")),
    (
        "electricity",
        ("Electric current flows through copper wires.", "A fuse breaks the circuit when it overheats."),
    ),
    ("whales", ("The blue whale is the largest animal ever known.", "Whales sing songs to each other.")),
    ("gardening", ("Plant tomatoes in a sunny spot in spring.", "Water the garden early in the morning.")),
    ("passwords", ("Use a long password for every account.", "Never share your password by email.")),
    (
        "trains",
        (
            "High speed trains travel at three hundred kilometers an hour.",
            "Railways changed how people travelled.",
        ),
    ),
    (
        "chocolate",
        ("Chocolate is made from cocoa beans.", "Dark chocolate has less sugar than milk chocolate."),
    ),
    (
        "earthquakes",
        ("Earthquakes happen when tectonic plates slip.", "Tall buildings sway to absorb the shaking."),
    ),
    (
        "penguins",
        ("Penguins cannot fly but they swim very well.", "Emperor penguins huddle together for warmth."),
    ),
)


def talk_script(*, duration_s: float = 1800.0, gap_s: float = 4.0) -> list[tuple[float, str, str]]:
    """The 30-minute talk: :data:`TALK_TOPICS` spread evenly over ``duration_s`` (topic ``k``
    starts at ``k * duration_s / 24 + 10``), its sentences ``gap_s`` seconds apart."""
    step = duration_s / len(TALK_TOPICS)
    if step < 15.0 + 2 * gap_s:
        raise ValueError(
            f"a talk of {len(TALK_TOPICS)} topics needs >= {len(TALK_TOPICS) * (15 + 2 * gap_s):.0f} s"
        )
    out = []
    for k, (topic, sentences) in enumerate(TALK_TOPICS):
        t = k * step + 10.0
        for s in sentences:
            out.append((round(t, 2), s, topic))
            t += gap_s + 0.07 * len(s)  # espeak at 160 wpm: about 0.06-0.07 s per character
    return out


def make_talk_video(
    *, duration_s: float = 1800.0, cache_dir: Path | None = None
) -> tuple[Path, SpeechScript]:
    """The 30-minute talk of :func:`talk_script` as a video (low noise, 1 fps 96x64, no
    subtitles); ``script.topics()`` gives each topic's spoken span. About 15 s to make, once."""
    return make_speech_video(
        talk_script(duration_s=duration_s), duration_s=duration_s, noise=0.003, cache_dir=cache_dir
    )


# -- scoring ------------------------------------------------------------------------------------
_NUMBERS = {"1969": "nineteen sixty nine", "90": "ninety", "300": "three hundred", "8": "eight", "10": "ten"}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation (digits spelled as the scripts spell them)."""
    words = []
    for w in re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")):
        words.extend(_NUMBERS.get(w, w).split())
    return [w.strip("'") for w in words if w.strip("'")]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on :func:`normalize_words`."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)
