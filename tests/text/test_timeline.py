"""Timeline types, text-source parsing, the merging rules and the subtitle writers (no models)."""

from __future__ import annotations

import pytest

from videopipe.errors import ConfigError, InputError
from videopipe.text import (
    DEFAULT_TEXT_SOURCES,
    TextLine,
    TextSource,
    Timeline,
    merge_sources,
    parse_text_sources,
)
from videopipe.text.formats import to_srt, to_vtt
from videopipe.text.subtitles import parse_subtitles

S, P, SCR = TextSource.subtitles, TextSource.speech, TextSource.screen


def _tl() -> Timeline:
    return Timeline(
        "v.mp4",
        (
            TextLine(10.0, 12.0, "second", P),
            TextLine(0.0, 4.0, "first", S),
            TextLine(3.0, 30.0, "slide", SCR, boxes=(((1.0, 2.0), (3.0, 2.0), (3.0, 4.0), (1.0, 4.0)),)),
            TextLine(20.0, 20.0, "instant", P),
        ),
        ("a note",),
    )


def test_lines_are_sorted_and_between_selects_overlaps() -> None:
    tl = _tl()
    assert [ln.text for ln in tl.lines] == ["first", "slide", "second", "instant"]
    assert [ln.text for ln in tl.between(4.0, 10.0)] == ["slide"]  # [4, 10): touching ends excluded
    assert [ln.text for ln in tl.between(11.0, 21.0)] == ["slide", "second", "instant"]
    assert tl.text_between(0.0, 3.5) == "first slide"
    assert tl.between(31.0, 40.0) == [] and tl.text_between(31.0, 40.0) == ""
    assert tl.sources == (S, P, SCR)
    assert Timeline("x", ()).sources == ()


def test_round_trip_keeps_everything() -> None:
    tl = _tl()
    back = Timeline.from_dict(tl.to_dict())
    assert back == tl
    assert back.lines[1].boxes == tl.lines[1].boxes and back.notes == ("a note",)
    assert tl.to_dict()["lines"][0]["source"] == "subtitles"


def test_textline_validates() -> None:
    with pytest.raises(InputError, match="ends before it starts"):
        TextLine(5.0, 4.0, "x", P)
    with pytest.raises(InputError, match="finite"):
        TextLine(float("nan"), 4.0, "x", P)
    assert TextLine(0, 1, "x", "speech").source is P  # type: ignore[arg-type]
    assert str(P) == "speech"


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("subtitles,speech,screen", (S, P, SCR)),
        ("screen, speech", (P, SCR)),
        ("SPEECH", (P,)),
        ("none", ()),
        ("", ()),
        ("auto", DEFAULT_TEXT_SOURCES),
        (["screen", S], (S, SCR)),
    ],
)
def test_parse_text_sources(spec, want) -> None:
    assert parse_text_sources(spec) == want


def test_default_is_subtitles_and_speech() -> None:
    assert DEFAULT_TEXT_SOURCES == (S, P)


def test_bad_source_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'ocr' is not one of subtitles, speech, screen"):
        parse_text_sources("speech,ocr")


def test_subtitles_win_over_speech_unless_both_asked() -> None:
    subs = [TextLine(0, 2, "sub", S)]
    speech = [TextLine(0, 2, "heard", P), TextLine(50, 52, "later", P)]
    screen = [TextLine(0, 60, "slide", SCR)]
    won = merge_sources(subs, speech, screen)
    assert [ln.source for ln in won] == [S, SCR]
    both = merge_sources(subs, speech, screen, subtitles_win=False)
    assert sorted(ln.text for ln in both) == ["heard", "later", "slide", "sub"]
    # without subtitles the speech is the text, whatever the rule
    assert [ln.text for ln in merge_sources([], speech)] == ["heard", "later"]


def test_srt_and_vtt_parse_back() -> None:
    lines = [TextLine(0.66, 4.24, "The quick  fox.", P), TextLine(3661.5, 3662.0, "an hour in", P)]
    srt = to_srt(lines)
    assert "01:01:01,500 --> 01:01:02,000" in srt
    for text, fmt in ((srt, "srt"), (to_vtt(lines), "vtt")):
        cues = parse_subtitles(text, fmt=fmt)
        assert [(c.start_s, c.end_s, c.text) for c in cues] == [
            (0.66, 4.24, "The quick fox."),
            (3661.5, 3662.0, "an hour in"),
        ]
    assert to_vtt(lines).startswith("WEBVTT\n")
