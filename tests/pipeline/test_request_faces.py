"""Every face checks its video (and question) with ``videopipe.request``: the long-video jobs'
functions and batch's driver give the one-line messages ``videopipe ask`` gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from videopipe.batch.jobs import Job
from videopipe.batch.run import check_jobs
from videopipe.errors import DecodeError, VideoNotFoundError
from videopipe.request import check_request


def _message(call) -> str:  # noqa: ANN001
    with pytest.raises((VideoNotFoundError, DecodeError)) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("bad", ["missing.mp4", "folder", "empty.mp4"])
def test_the_jobs_check_their_video_like_ask(tmp_path: Path, bad: str) -> None:
    from videopipe.chapters.job import find_chapters
    from videopipe.locate.job import locate
    from videopipe.summarize.job import summarize

    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.mp4").write_bytes(b"")
    video = tmp_path / bad
    expected = _message(lambda: check_request(video, "what?"))
    assert _message(lambda: find_chapters(video)) == expected
    assert _message(lambda: locate(video, "the part about taxes")) == expected
    assert _message(lambda: summarize(video, model=object())) == expected  # type: ignore[arg-type]


def test_batch_refuses_bad_requests_in_the_driver_with_asks_message(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    good.write_bytes(b"x" * 10)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    jobs = [
        Job("1", str(good), "what?"),
        Job("2", str(tmp_path / "gone.mp4"), "what?"),
        Job("3", str(empty), "what?"),
        Job("4", str(good), "   "),
    ]
    ok, refused = check_jobs(jobs)
    assert [j.id for j in ok] == ["1"]
    by_id = {r["id"]: r for r in refused}
    assert set(by_id) == {"2", "3", "4"}
    for rid, (video, question) in {
        "2": (tmp_path / "gone.mp4", "what?"),
        "3": (empty, "what?"),
        "4": (good, "  "),
    }.items():
        with pytest.raises(Exception) as info:
            check_request(video, question)
        rec = by_id[rid]
        assert rec["status"] == "error" and rec["attempts"] == 0
        assert rec["error"] == {"type": type(info.value).__name__, "message": str(info.value)}
