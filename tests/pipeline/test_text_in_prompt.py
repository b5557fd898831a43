"""The video's timed text reaches the LLM: the lines of the sampled spans, in the family's
format, within the text-token budget, reported in the stats; evidence names the line that
matched; ``--text none`` turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError
from videopipe.models.qwen import Qwen3VL
from videopipe.pipeline import Pipeline
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.subtitled import make_tiny_video, write_srt
from videopipe.text.prompt import SUBTITLE_HEADER, lines_for_prompt, sampled_spans, subtitle_block
from videopipe.text.timeline import TextLine, TextSource, Timeline

CUES = [
    (2.0, 5.0, "Welcome to the lecture about volcanoes."),
    (20.0, 24.0, "Magma rises through the crust and erupts as lava."),
    (40.0, 44.0, "Next week we discuss glaciers and ice ages."),
]


@pytest.fixture
def subtitled(tmp_path: Path) -> Path:
    v = make_tiny_video(tmp_path / "lecture.mp4", duration_s=60)
    write_srt(tmp_path / "lecture.srt", CUES)
    return v


def _pipe(tmp_path: Path, **cfg: object) -> tuple[Pipeline, FakeVideoLLM]:
    model = FakeVideoLLM()
    config = PipelineConfig(num_frames=8, cache_dir=str(tmp_path / "cache"), **cfg)  # type: ignore[arg-type]
    return Pipeline(model, sampler="uniform", compressor="none", config=config), model


def test_the_subtitles_of_the_sampled_spans_go_before_the_question(subtitled: Path, tmp_path: Path) -> None:
    pipe, model = _pipe(tmp_path, text="subtitles")
    answer = pipe.ask(subtitled, "How does lava form?")
    prompt = model.last_prompt
    assert prompt.startswith(SUBTITLE_HEADER) and prompt.endswith("How does lava form?")
    assert "[00:20] Magma rises through the crust and erupts as lava." in prompt
    assert prompt.index("[00:02]") < prompt.index("[00:20]") < prompt.index("[00:40]")  # time order
    s = answer.stats
    assert s.text_lines == 3 and s.text_sources == ("subtitles",)
    assert s.text_tokens == sum(model.count_text_tokens(t) for _, _, t in CUES)
    # the evidence names the line sharing the question's words
    matched = [h.match for h in answer.evidence if h.match is not None]
    assert matched and matched[0].text == CUES[1][2] and matched[0].start_s == 20.0
    assert matched[0].source == "subtitles"


def test_text_none_sends_the_question_alone(subtitled: Path, tmp_path: Path) -> None:
    pipe, model = _pipe(tmp_path, text="none")
    answer = pipe.ask(subtitled, "How does lava form?")
    assert model.last_prompt == "How does lava form?"
    assert answer.stats.text_lines == 0 and answer.stats.text_tokens == 0
    assert all(h.match is None for h in answer.evidence)


def test_the_text_budget_keeps_the_lines_closest_to_the_question(subtitled: Path, tmp_path: Path) -> None:
    budget = FakeVideoLLM().count_text_tokens(CUES[1][2]) + 4
    pipe, model = _pipe(tmp_path, text="subtitles", max_text_tokens=budget)
    answer = pipe.ask(subtitled, "What rises through the crust as magma?")
    assert answer.stats.text_lines == 1 and answer.stats.text_tokens <= budget
    assert "Magma rises" in model.last_prompt and "glaciers" not in model.last_prompt


def test_a_bad_text_source_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="subtitles, speech, screen"):
        PipelineConfig(text="subtitles,audio")


def test_sampled_spans_cover_a_uniform_selection_and_only_the_clips_of_a_retrieved_one() -> None:
    assert sampled_spans([5.0 + 10 * i for i in range(6)]) == [(0.0, 60.0)]
    retrieved = [100.0, 101.0, 102.0, 103.0, 500.0, 501.0, 502.0]
    assert sampled_spans(retrieved) == [(95.0, 108.0), (495.0, 507.0)]


def test_lines_outside_the_sampled_spans_are_left_out() -> None:
    tl = Timeline(
        "v.mp4",
        (
            TextLine(10, 12, "inside one", TextSource.speech),
            TextLine(300, 302, "far away", TextSource.speech),
            TextLine(499, 503, "inside two", TextSource.screen),
        ),
    )
    kept = lines_for_prompt(tl, [(5, 20), (495, 507)], "anything", max_tokens=100, count_tokens=len)
    assert [ln.text for ln in kept] == ["inside one", "inside two"]
    assert "(on screen) inside two" in subtitle_block(kept)


def test_qwen3_vl_times_the_lines_like_its_frames() -> None:
    lines = [TextLine(12.5, 14.0, "the chart goes up", TextSource.speech)]
    prompt = Qwen3VL.with_text(object(), "When?", lines)  # type: ignore[arg-type]
    assert prompt == f"{SUBTITLE_HEADER}\n<12.5 seconds> the chart goes up\nWhen?"


def test_subtitles_win_over_speech_unless_both_are_asked_for(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    import shutil

    from videopipe.testing.speech import make_speech_video, short_script
    from videopipe.text.speech import ASR_COUNTERS

    src, _ = make_speech_video(short_script(), duration_s=40.0)
    video = tmp_path / "talk.mp4"
    shutil.copy(src, video)
    write_srt(tmp_path / "talk.srt", [(0.5, 4.0, "An authored subtitle line.")])
    before = ASR_COUNTERS.transcribe_calls
    pipe, model = _pipe(tmp_path, text="subtitles,speech")
    answer = pipe.ask(video, "What should I bring tomorrow?")
    assert answer.stats.text_sources == ("subtitles",) and ASR_COUNTERS.transcribe_calls == before
    assert any("subtitles win" in n for n in answer.stats.notes)
    pipe, model = _pipe(tmp_path, text="subtitles,speech", speech_with_subtitles=True)
    seen: list[tuple[str, float, float]] = []
    pipe.text_progress = lambda source, done, total: seen.append((source, done, total))
    answer = pipe.ask(video, "What should I bring tomorrow?")
    # the transcription reported its progress: seconds of audio done, up to the whole 40 s
    assert seen and {s for s, _, _ in seen} == {"speech"} and seen[-1][1] == pytest.approx(40.0, abs=1.0)
    assert answer.stats.text_sources == ("speech", "subtitles")
    assert "An authored subtitle line." in model.last_prompt and "umbrella" in model.last_prompt.lower()
    assert any(h.match is not None and "umbrella" in h.match.text.lower() for h in answer.evidence)
