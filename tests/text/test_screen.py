"""Screen text with the real rapidocr (PP-OCRv4) over a generated slides video."""

from __future__ import annotations

import pytest

from videopipe.errors import ConfigError
from videopipe.testing.slides import default_slides, make_slides_video
from videopipe.testing.speech import normalize_words
from videopipe.text import TextSource, load_timeline
from videopipe.text.screen import OCR_COUNTERS, OCRConfig, read_screen, same_text

TOL_S = 1.0  # the bound; measured: every boundary exact to the frame (0.2 s at 5 fps)


@pytest.fixture(scope="module")
def slides():
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    return make_slides_video()


@pytest.fixture(scope="module")
def read(slides):
    path, _ = slides
    before = OCR_COUNTERS.ocr_frames
    result = read_screen(path, OCRConfig())
    return result, OCR_COUNTERS.ocr_frames - before


def _words_found(title: str, text: str) -> float:
    want, got = normalize_words(title), set(normalize_words(text))
    return sum(w in got for w in want) / len(want)


def test_every_title_is_one_line_at_its_time(slides, read) -> None:
    _, truth = slides
    result, _ = read
    assert len(truth) >= 15 and len({s.end_s - s.start_s for s in truth}) >= 10
    for slide in truth:
        matches = [ln for ln in result.lines if _words_found(slide.title, ln.text) >= 0.75]
        assert len(matches) == 1, (slide, [ln.text for ln in result.lines])
        ln = matches[0]
        assert abs(ln.start_s - slide.start_s) <= TOL_S, (ln, slide)
        assert abs(ln.end_s - slide.end_s) <= TOL_S, (ln, slide)
        assert ln.source is TextSource.screen and ln.boxes


def test_a_slide_held_long_is_one_entry(slides, read) -> None:
    """The 60 s slide gets a box half-way (a new picture, OCR'd again): merged into one line."""
    _, truth = slides
    result, ocr_frames = read
    longest = max(truth, key=lambda s: s.end_s - s.start_s)
    assert result.pictures == len(truth) + 1  # the picture change was seen ...
    assert len(result.lines) == len(truth)  # ... and merged
    (line,) = [ln for ln in result.lines if _words_found(longest.title, ln.text) >= 0.75]
    assert line.end_s - line.start_s == pytest.approx(longest.end_s - longest.start_s, abs=TOL_S)


def test_ocr_runs_once_per_picture_not_per_frame(slides, read) -> None:
    path, truth = slides
    result, ocr_frames = read
    assert ocr_frames == result.pictures
    frames = 5 * truth[-1].end_s
    assert result.probes < frames / 4  # cheap probes too: a fraction of the frames is decoded


def test_screen_text_is_cached(slides, tmp_path) -> None:
    path, truth = make_slides_video(default_slides()[:3])
    before = OCR_COUNTERS.ocr_frames
    first = load_timeline(path, "screen", cache_dir=tmp_path)
    ran = OCR_COUNTERS.ocr_frames - before
    assert ran == 4 and len(first.lines) == 3  # 3 slides, the longest with its box: 4 pictures
    second = load_timeline(path, "screen", cache_dir=tmp_path)
    assert OCR_COUNTERS.ocr_frames == before + ran  # counted: no OCR ran
    assert second == first and second.lines[0].boxes == first.lines[0].boxes


def test_no_text_and_audio_only_are_notes(silent, tmp_path) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    tl = load_timeline(silent, "screen", cache=False)  # a flat grey picture
    assert tl.lines == () and "no screen text" in tl.notes[0]
    from videopipe.testing.speech import make_speech_video, short_script

    audio_only, _ = make_speech_video(short_script()[:1], duration_s=5.0, video=False)
    tl = load_timeline(audio_only, "screen", cache=False)
    assert tl.lines == () and "no video stream" in tl.notes[0]


def test_same_text_is_fuzzy() -> None:
    assert same_text("Extra data forreaders", "Extra data for readers", ratio=0.8)
    assert same_text("QUARTERLY  revenue, growth!", "Quarterly Revenue Growth", ratio=0.99)
    assert not same_text("Quarterly Revenue Growth", "Customer Churn Analysis", ratio=0.8)
    assert not same_text("", "x", ratio=0.8)


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="probe_s"):
        OCRConfig(probe_s=0)
    with pytest.raises(ConfigError, match="merge_ratio"):
        OCRConfig(merge_ratio=1.5)
    assert OCRConfig().key() != OCRConfig(probe_s=1.0).key()
