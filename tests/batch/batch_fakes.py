"""Fake batch runners for the batch tests (selected with ``--runner batch_fakes:...``).

They do a little real work (open the file with ``videopipe.open_video`` and decode its first
frame), so corrupt and empty files fail the way real decoding does, and they can count their calls in a file,
sleep to stand in for model time, and crash their worker process on marked inputs.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from videopipe.types import Answer, Hit, Stats


def _record_call(count_file: str | None, what: str) -> None:
    if count_file:
        fd = os.open(count_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (what.replace("\n", " ") + "\n").encode())
        finally:
            os.close(fd)


def _maybe_crash(video: str, segv_on: str | None, kill_on: str | None, hang_on: str | None = None) -> None:
    name = Path(video).name
    if hang_on and hang_on in name:  # a decoder stuck on a bad file
        time.sleep(3600)
    if segv_on and segv_on in name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if kill_on and kill_on in name:  # what the kernel's OOM killer does
        os.kill(os.getpid(), signal.SIGKILL)


def probe(video: str) -> int:
    """Open the video with the production decoder and decode its first frame; the number of
    frames. Missing, empty and corrupt files raise videopipe's own decode errors."""
    from videopipe.decode import open_video

    with open_video(video) as reader:
        reader.frames_at([0], size=32)
        return int(reader.info.num_frames)


class FakeRunner:
    def __init__(
        self,
        count_file: str | None,
        segv_on: str | None,
        kill_on: str | None,
        sleep_s: float,
        hang_on: str | None,
    ) -> None:
        self.count_file, self.segv_on, self.kill_on, self.sleep_s = count_file, segv_on, kill_on, sleep_s
        self.hang_on = hang_on

    def __call__(self, prepared: Any, question: str) -> Answer:
        video = prepared["video"] if isinstance(prepared, dict) else prepared
        _record_call(self.count_file, f"{Path(video).name}\t{question}")
        _maybe_crash(video, self.segv_on, self.kill_on, self.hang_on)
        n = prepared["frames"] if isinstance(prepared, dict) else probe(video)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return Answer(
            text=f"{Path(video).name} has {n} frames; q={question}",
            evidence=(Hit(video=video, start_s=0.0, end_s=0.5, score=0.9, text="first frames"),),
            stats=Stats(frames_decoded=1, frames_selected=1, tokens_before=4, tokens_after=4),
            video=video,
            question=question,
        )


def runner(
    count_file: str | None = None,
    segv_on: str | None = None,
    kill_on: str | None = None,
    sleep_s: float = 0.0,
    hang_on: str | None = None,
) -> FakeRunner:
    return FakeRunner(count_file, segv_on, kill_on, sleep_s, hang_on)


def preparer(count_file: str | None = None, segv_on: str | None = None):
    """A prepare stage that probes the video (and may crash on a marked one)."""

    def prepare(video: str) -> dict[str, Any]:
        _record_call(count_file, f"prepare {Path(video).name}")
        _maybe_crash(video, segv_on, None)
        return {"video": video, "frames": probe(video)}

    return prepare


def broken_runner() -> FakeRunner:
    raise RuntimeError("cannot load the model: weights missing")


def spy_pipeline_preparer(*, config: dict, log_file: str):
    """The production prepare stage, logging per video the process it ran in, whether its
    pipeline has loaded the model (it must not) and whether the tokens were cached."""
    from videopipe.batch.jobs import pipeline_preparer

    prepare = pipeline_preparer(config=config)

    def run(video: str):
        decoded = prepare(video)
        with open(log_file, "a", encoding="utf-8") as f:
            loaded = prepare.__self__.model_loaded
            f.write(f"{os.getpid()} {Path(video).name} loaded={loaded} cached={decoded.cached}\n")
        return decoded

    return run
