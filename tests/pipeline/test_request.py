"""A request is checked once, by ``check_request``: the path, then the question, then the
options, each failure one error that names the value; the pipeline trusts the record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videopipe.errors import DecodeError, InputError, VideoNotFoundError
from videopipe.model_records import Turn
from videopipe.request import Request, check_request


def test_a_good_request_is_one_frozen_record(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    req = check_request(str(video), "  what happens?  ", max_new_tokens=8, temperature=0.5)
    assert req == Request(video, "what happens?", 8, 0.5)
    with pytest.raises(AttributeError):
        req.question = "other"  # type: ignore[misc]


def test_each_bad_input_is_named(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    with pytest.raises(VideoNotFoundError, match="no such file"):
        check_request(video, "what?")
    with pytest.raises(VideoNotFoundError, match="directory"):
        check_request(tmp_path, "what?")
    video.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty"):
        check_request(video, "what?")
    video.write_bytes(b"x" * 10)
    with pytest.raises(InputError, match=f"empty question for {video}"):
        check_request(video, "   ")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="max_new_tokens"):
            check_request(video, "what?", max_new_tokens=bad)  # type: ignore[arg-type]
    for bad in (-0.1, float("inf"), float("nan"), "hot"):
        with pytest.raises(InputError, match="temperature"):
            check_request(video, "what?", temperature=bad)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    video = tmp_path / "locked.mp4"
    video.write_bytes(b"x" * 10)
    video.chmod(0)
    try:
        with pytest.raises(VideoNotFoundError, match="locked.mp4: is not readable"):
            check_request(video, "what?")
    finally:
        video.chmod(0o644)


def test_the_history_is_part_of_the_request(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    turns = [Turn("system", "answer briefly"), Turn("user", "what is it?"), Turn("assistant", "a talk")]
    assert check_request(video, "and then?", history=turns).history == tuple(turns)
    assert check_request(video, "and then?").history == ()
    with pytest.raises(InputError, match=r"history\[1\]: role 'robot' is not one of system, user, assistant"):
        check_request(video, "what?", history=[Turn("user", "a"), Turn("robot", "b")])
    with pytest.raises(InputError, match=r"history\[0\] must be a videopipe Turn\(role, text\), got dict"):
        check_request(video, "what?", history=[{"role": "user", "text": "a"}])


def test_answer_reads_the_question_options_and_history_from_the_request(tmp_path: Path) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.videos import make_video, scenes_video

    video = make_video(scenes_video((10, 10), width=112, height=56, seed=3))
    pipe = Pipeline(config=PipelineConfig(model="fake", num_frames=4, size_px=56, cache_tokens=False))
    prepared = pipe.prepare(video)
    turns = (Turn("user", "which room is this?"), Turn("assistant", "the kitchen"))
    request = check_request(video, "  what colour is the screen?  ", history=turns)
    answer = pipe.answer(prepared, request)
    asked = pipe.model.last_prompt  # the fake model does not converse: the turns precede the question
    assert answer.question == "what colour is the screen?"
    assert "which room is this?" in asked and "the kitchen" in asked
    assert asked.index("the kitchen") < asked.index("what colour is the screen?")
    with pytest.warns(DeprecationWarning, match=r"answer\(history=\) is deprecated"):
        old = pipe.answer(prepared, "what colour is the screen?", history=turns)
    assert pipe.model.last_prompt == asked and old.text == answer.text
    pipe.answer(prepared, check_request(video, "what colour is the screen?"))
    assert "the kitchen" not in pipe.model.last_prompt
    with pytest.raises(TypeError, match="the request carries"):
        pipe.answer(prepared, request, temperature=0.5)
