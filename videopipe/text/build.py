"""One text timeline per video: :func:`load_timeline` gathers subtitles, speech and screen text.

Sources (:func:`parse_text_sources`, the ``--text`` flag): ``subtitles`` (a sidecar file or an
embedded text stream), ``speech`` (faster-whisper), ``screen`` (OCR). The default,
:data:`DEFAULT_TEXT_SOURCES`, is ``subtitles,speech``: speech is what most long videos are
about, and with VAD a talk transcribes at tens of times real time on a CPU, while OCR costs about
a second per distinct picture (see ``docs/text.md`` for the measured numbers).

**Subtitles win** (``subtitles_win=True``): a video that has subtitles gets them as its speech
and no ASR runs (they are the authored transcript, and the ASR of a whole video costs the same
whether or not subtitles cover most of it); ``subtitles_win=False`` keeps both. Screen text is
always kept beside the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from videopipe.errors import ConfigError, UnsupportedVideoError
from videopipe.text.timeline import (
    DEFAULT_TEXT_SOURCES,
    TextLine,
    TextSource,
    Timeline,
    parse_text_sources,
)

if TYPE_CHECKING:
    from videopipe.text.cache import CachedText, TextCache
    from videopipe.text.screen import OCRConfig
    from videopipe.text.speech import ASRConfig

__all__ = ["DEFAULT_TEXT_SOURCES", "load_timeline", "merge_sources", "parse_text_sources"]

#: progress(source, done, total): seconds of audio (speech) or of video (screen)
TextProgress = Callable[[str, float, float], None]
ConfigT = TypeVar("ConfigT")
#: read(on_progress) -> the lines and notes of one text source (on_progress(done, total))
TextReader = Callable[[Callable[[float, float], None] | None], "CachedText"]


def merge_sources(
    subtitles: Sequence[TextLine],
    speech: Sequence[TextLine],
    screen: Sequence[TextLine] = (),
    *,
    subtitles_win: bool = True,
) -> tuple[TextLine, ...]:
    """The lines of one timeline: subtitles win over speech when the video has any (the speech
    lines are dropped) unless ``subtitles_win=False``; screen text is always kept."""
    kept_speech: Sequence[TextLine] = () if (subtitles_win and subtitles) else speech
    return tuple(subtitles) + tuple(kept_speech) + tuple(screen)


def load_timeline(
    video: str | Path,
    sources: Sequence[TextSource | str] | str = DEFAULT_TEXT_SOURCES,
    *,
    asr: ASRConfig | None = None,
    ocr: OCRConfig | None = None,
    subtitles_win: bool = True,
    subtitles: str | Path | None = None,
    progress: TextProgress | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    checked: bool = False,
) -> Timeline:
    """The text timeline of ``video`` from ``sources`` (see the module docstring). The path is
    checked here (a clear error for a missing or empty file) unless ``checked``: the caller
    checked it already (``videopipe.request.check_video``; the pipeline does).

    ``asr`` / ``ocr``: an :class:`~videopipe.text.speech.ASRConfig` /
    :class:`~videopipe.text.screen.OCRConfig` (None: the defaults). ``subtitles``: a subtitle
    file instead of the sidecar lookup. Transcripts and screen text are cached on disk
    (``cache=False``: always recomputed, nothing written); a video with no audio, no speech or
    no subtitles gets a note, never an error."""
    chosen = parse_text_sources(sources)  # a bad source name fails before the path is looked at
    if checked:
        p = Path(video)
    else:
        from videopipe.decode.probe import check_path

        p = check_path(video)
    stored = {"progress": progress, "cache": cache, "cache_dir": cache_dir}
    notes: list[str] = []
    subs: list[TextLine] = []
    if TextSource.subtitles in chosen:
        from videopipe.text.subtitles import load_subtitles

        subs = [
            TextLine(c.start_s, c.end_s, c.text, TextSource.subtitles)
            for c in load_subtitles(p, subtitles=subtitles)
        ]
        if not subs:
            notes.append(f"{p}: no subtitles")
    speech: list[TextLine] = []
    if TextSource.speech in chosen:
        if subtitles_win and subs:
            notes.append(f"{p}: speech not transcribed: its subtitles are used (subtitles win)")
        else:
            got, more = _cached_source(p, "speech", *_speech(p, asr), **stored)
            speech, notes = list(got), notes + list(more)
    screen: list[TextLine] = []
    if TextSource.screen in chosen:
        try:
            got, more = _cached_source(p, "screen", *_screen(p, ocr), **stored)
        except UnsupportedVideoError:  # an audio-only file has no screen (not cached: nothing was read)
            got, more = (), (f"{p}: no video stream, so no screen text",)
        screen, notes = list(got), notes + list(more)
    lines = merge_sources(subs, speech, screen, subtitles_win=subtitles_win)
    return Timeline(str(p), lines, tuple(notes))


def _cache(cache: bool, cache_dir: str | Path | None) -> TextCache | None:
    if not cache:
        return None
    from videopipe.text.cache import TextCache

    return TextCache(Path(cache_dir) / "text" if cache_dir is not None else None)


def _speech(p: Path, asr: ASRConfig | None) -> tuple[str, TextReader]:
    """The speech of ``p``: its config's key and its reader (faster-whisper)."""
    from videopipe.text.cache import CachedText
    from videopipe.text.speech import ASRConfig, transcribe_audio

    config = _config_of(asr, ASRConfig, "asr")

    def read(on_progress: Callable[[float, float], None] | None) -> CachedText:
        result = transcribe_audio(p, config, progress=on_progress)
        return CachedText(result.lines, result.notes)

    return config.key(), read


def _screen(p: Path, ocr: OCRConfig | None) -> tuple[str, TextReader]:
    """The screen text of ``p``: its config's key and its reader (OCR); a note when it has none."""
    from videopipe.text.cache import CachedText
    from videopipe.text.screen import OCRConfig, read_screen

    config = _config_of(ocr, OCRConfig, "ocr")

    def read(on_progress: Callable[[float, float], None] | None) -> CachedText:
        lines = read_screen(p, config, progress=on_progress).lines
        return CachedText(lines, () if lines else (f"{p}: no screen text",))

    return config.key(), read


def _config_of(given: object, cls: type[ConfigT], name: str) -> ConfigT:
    """``given``, or ``cls()`` when it is None; a ConfigError when it is another type."""
    config = given if given is not None else cls()
    if not isinstance(config, cls):
        raise ConfigError(f"{name} must be an {cls.__name__}, got {type(config).__name__}")
    return config


def _cached_source(
    p: Path,
    kind: str,
    config_key: str,
    read: TextReader,
    *,
    progress: TextProgress | None,
    cache: bool,
    cache_dir: str | Path | None,
) -> tuple[tuple[TextLine, ...], tuple[str, ...]]:
    """The lines and notes of one text source of ``p`` (``kind``: speech or screen): from the
    text cache when it holds them for ``config_key``, else ``read(on_progress)``, then saved."""
    store = _cache(cache, cache_dir)
    key = store.key(p, kind=kind, config_key=config_key) if store else ""
    if store is not None and (hit := store.load(key)) is not None:
        return hit.lines, hit.notes
    on_progress = None if progress is None else (lambda done, total: progress(kind, done, total))
    got = read(on_progress)
    if store is not None:
        store.save(key, got)
    return got.lines, got.notes
