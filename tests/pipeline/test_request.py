"""A request is checked once, by ``check_request``: the path, then the question, then the
options, each failure one error that names the value; the pipeline trusts the record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videopipe.errors import DecodeError, InputError, VideoNotFoundError
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
