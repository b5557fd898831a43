"""summarize: each chunk described from its own frames and lines, hierarchical reduce within a
small context, cached descriptions and a resumed run (a spy of the fake video LLM)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from videopipe.errors import ConfigError
from videopipe.summarize.chunks import plan_chunks
from videopipe.summarize.job import TEMPLATE_TOKENS, summarize
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.videos import VideoSpec, make_video, scenes_video
from videopipe.text.timeline import TextLine, TextSource, Timeline


class Spy(FakeVideoLLM):
    """Says which frame times and which lines it was given; records every call."""

    def __init__(self) -> None:
        super().__init__(token_px=16)
        self.seen: list[tuple[float, float, list[str], str]] = []

    def generate(self, tokens, question: str, *, max_new_tokens: int = 128, **_: object) -> str:  # noqa: ANN001
        t = tokens.time_s
        lines = re.findall(r"line@(\d+)", question)
        self.seen.append((float(t.min()), float(t.max()), lines, question))
        return f"frames {float(t.min()):.2f}-{float(t.max()):.2f} lines {','.join(lines)}"


@pytest.fixture(scope="module")
def video() -> Path:
    return make_video(
        VideoSpec(scenes=scenes_video((100, 100, 100), fps=10.0).scenes, fps=10.0, width=64, height=48)
    )


def _timeline(video: Path, every_s: float = 2.0, duration_s: float = 30.0) -> Timeline:
    n = int(duration_s / every_s)
    lines = [TextLine(k * every_s, k * every_s + 1.0, f"line@{k}", TextSource.speech) for k in range(n)]
    return Timeline(str(video), tuple(lines))


def test_each_chunk_gets_only_its_own_frames_and_lines(video: Path, tmp_path: Path) -> None:
    spy = Spy()
    s = summarize(video, model=spy, timeline=_timeline(video), chunk_s=6.0, align="none", cache_dir=tmp_path)
    assert len(s.chunks) == 5
    for c, (lo, hi, lines, _) in zip(s.chunks, spy.seen):
        assert c.start_s <= lo and hi < c.end_s  # frames from inside the chunk only
        own = [str(k) for k in range(15) if c.start_s <= 2.0 * k < c.end_s]
        assert lines == own  # its lines, all of them, no other chunk's
        assert c.text == f"frames {lo:.2f}-{hi:.2f} lines {','.join(own)}"  # swapped chunks would differ
    assert all(
        f"[{c.label[1:-1]}]" in spy.seen[-1][3] for c in s.sections
    )  # the summary prompt cites the spans
    assert s.levels == 0 and s.text.startswith("frames")


def test_300_chunks_reduce_hierarchically_within_the_context(video: Path, tmp_path: Path) -> None:
    spy = Spy()
    context, new = 200, 20
    s = summarize(
        video,
        model=spy,
        timeline=_timeline(video),
        chunk_s=0.1,
        align="none",
        frames=1,
        context_tokens=context,
        max_new_tokens=new,
        cache=False,
    )
    assert len(s.chunks) == 300 and s.levels >= 2
    reduce_prompts = [q for *_, q in spy.seen[300:]]
    room = context - new - TEMPLATE_TOKENS  # the chat template's allowance kept free too
    assert reduce_prompts and all(spy.count_text_tokens(q) <= room for q in reduce_prompts)
    assert s.sections[0].start_s == 0.0 and s.sections[-1].end_s == pytest.approx(30.0, abs=0.2)


def test_cached_and_a_killed_run_resumes(video: Path, tmp_path: Path) -> None:
    tl = _timeline(video)

    def stop_after(k: int):  # noqa: ANN202
        def progress(done: int, total: int) -> None:
            if done == k:
                raise KeyboardInterrupt

        return progress

    with pytest.raises(KeyboardInterrupt):
        summarize(
            video,
            model=Spy(),
            timeline=tl,
            chunk_s=3.0,
            align="none",
            cache_dir=tmp_path,
            progress=stop_after(4),
        )
    again = Spy()
    s = summarize(video, model=again, timeline=tl, chunk_s=3.0, align="none", cache_dir=tmp_path)
    assert s.cached == 4 and len(s.chunks) == 10
    assert len(again.seen) == 10 - 4 + 1  # six chunks described, one summary
    third = Spy()
    assert (
        summarize(video, model=third, timeline=tl, chunk_s=3.0, align="none", cache_dir=tmp_path).chunks
        == s.chunks
    )
    assert len(third.seen) == 1  # every description from the cache


def test_chunks_follow_boundaries_and_bad_values_are_named() -> None:

    got = plan_chunks(100.0, [30.0], 20.0)
    assert got[0] == (0.0, 15.0) and got[2][0] == 30.0 and all(b - a <= 20.0 + 1e-9 for a, b in got)
    with pytest.raises(ConfigError, match="--chunk-s"):
        plan_chunks(10.0, [], 0.0)


def test_summarize_cli_with_the_fake_model(videopipe, video: Path, tmp_path: Path) -> None:
    from tests.cli.conftest import cli_env

    env = cli_env(VIDEOPIPE_CACHE=str(tmp_path))
    args = (
        "summarize",
        str(video),
        "--model",
        "fake",
        "--align",
        "none",
        "--chunk-s",
        "10",
        "--text",
        "none",
    )
    r = videopipe(*args, "--json", env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["chunks"]) == 3 and data["cached"] == 0 and data["summary"]
    again = json.loads(videopipe(*args, "--json", env=env).stdout)
    assert again["cached"] == 3 and again["chunks"] == data["chunks"]
    r = videopipe(*args, env=env)
    assert r.returncode == 0 and re.search(r"^\[00:00-00:\d\d\] ", r.stdout, re.M)
    r = videopipe("summarize", str(video), "--model", "fake", "--align", "scenes", env=env)
    assert r.returncode == 2 and "'scenes' is not one of chapters, cuts, none" in r.err_lines[0]


def test_model_titles_come_from_each_chapters_own_frames(video: Path) -> None:
    from videopipe.summarize.describe import TITLE_PROMPT, title_spans

    spy = Spy()
    titles = title_spans(spy, video, [(0.0, 10.0), (10.0, 30.0)], _timeline(video))
    assert len(titles) == 2 and all(titles)
    assert [
        (lo >= a and hi < b) for (lo, hi, _, _), (a, b) in zip(spy.seen, [(0.0, 10.0), (10.0, 30.0)])
    ] == [True, True]
    assert all(TITLE_PROMPT in q for *_, q in spy.seen)
