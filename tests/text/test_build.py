"""load_timeline: the sources together, subtitles winning over speech (real ASR)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from videopipe.errors import ConfigError, VideoNotFoundError
from videopipe.testing.subtitled import write_srt
from videopipe.text import TextSource, load_timeline
from videopipe.text.speech import ASR_COUNTERS


@pytest.fixture()
def subtitled(spoken, tmp_path: Path) -> Path:
    """The spoken clip with a sidecar .srt that covers only its first sentence."""
    video = tmp_path / "talk.mp4"
    shutil.copy(spoken[0], video)
    write_srt(tmp_path / "talk.srt", [(1.0, 3.8, "The quick brown fox jumps over the lazy dog.")])
    return video


def test_subtitles_win_and_no_asr_runs(subtitled: Path, asr_model) -> None:
    calls = ASR_COUNTERS.transcribe_calls
    tl = load_timeline(subtitled, cache=False)  # the default: subtitles + speech
    assert ASR_COUNTERS.transcribe_calls == calls
    assert [ln.source for ln in tl.lines] == [TextSource.subtitles]
    assert tl.sources == (TextSource.subtitles,)
    assert any("subtitles win" in n for n in tl.notes)


def test_both_keeps_subtitles_and_speech(subtitled: Path, asr_model) -> None:
    tl = load_timeline(subtitled, "subtitles,speech", subtitles_win=False, cache=False)
    assert tl.sources == (TextSource.subtitles, TextSource.speech)
    assert len([ln for ln in tl.lines if ln.source is TextSource.speech]) == 4
    assert "brown fox" in tl.text_between(0.0, 5.0)  # the subtitle's words, from its cue
    assert "umbrella" in tl.text_between(19.0, 24.0)  # a sentence only speech has


def test_no_subtitles_falls_back_to_speech(spoken, asr_model) -> None:
    tl = load_timeline(spoken[0], "auto", cache=False)
    assert tl.sources == (TextSource.speech,) and len(tl.lines) == 4
    assert any("no subtitles" in n for n in tl.notes)


def test_none_reads_nothing(spoken) -> None:
    assert load_timeline(spoken[0], "none").lines == ()


def test_errors(tmp_path: Path, spoken) -> None:
    with pytest.raises(VideoNotFoundError, match="nope.mp4"):
        load_timeline(tmp_path / "nope.mp4")
    with pytest.raises(ConfigError, match="ASRConfig"):
        load_timeline(spoken[0], "speech", asr="tiny.en", cache=False)  # type: ignore[arg-type]
