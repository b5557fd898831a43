"""summarize with a tiny random checkpoint of a real architecture (Qwen2.5-VL through the
production loader), not the fake model: every chunk's description is the model's own answer to
that chunk's frames and lines only (the inputs recorded at the adapter), the reduce fits every
prompt -- frame, chat template and answer included, as the model counts them -- in a small
context, hierarchically (through ``Pipeline.summarize``), and a run of the installed executable killed with SIGKILL resumes
without describing its cached chunks again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import cli_env, videopipe_command
from videopipe.decode import open_video
from videopipe.models import load_model
from videopipe.summarize.describe import DESCRIBE_PROMPT, frame_size, span_times
from videopipe.summarize.job import summarize
from videopipe.testing.tiny_models import build_tiny_model
from videopipe.testing.videos import VideoSpec, make_video, scenes_video
from videopipe.text.timeline import TextLine, TextSource, Timeline

WORDS = ("rockets fly to orbit", "whales sing under the sea", "volcanoes erupt with lava")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("qwen2_5_vl", tmp_path_factory.mktemp("tiny") / "qwen")


@pytest.fixture(scope="module")
def video() -> Path:
    return make_video(
        VideoSpec(scenes=scenes_video((40, 40, 40), fps=10.0).scenes, fps=10.0, width=64, height=48)
    )


def _recording(model: Any) -> list[tuple[float, float, str, int]]:
    """Record every generation's frame times, question and prompt tokens (the adapter's count)."""
    seen: list[tuple[float, float, str, int]] = []
    real = model.generate

    def generate(tokens: Any, question: str, **kw: Any) -> str:
        out = real(tokens, question, **kw)
        used = model.last_generation.prompt_tokens if model.last_generation is not None else -1
        seen.append((float(tokens.time_s.min()), float(tokens.time_s.max()), question, used))
        return out

    model.generate = generate
    return seen


def test_each_chunk_is_the_models_answer_to_its_own_frames_and_lines(
    ckpt: Path, video: Path, tmp_path: Path
) -> None:
    model = load_model(str(ckpt), device="cpu")
    spans = [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0)]
    lines = tuple(TextLine(a + 0.5, a + 1.5, w, TextSource.speech) for (a, _), w in zip(spans, WORDS))
    seen = _recording(model)
    s = summarize(
        video,
        model=model,
        timeline=Timeline(str(video), lines),
        chunk_s=4.0,
        align="none",
        frames=2,
        size_px=56,
        max_new_tokens=8,
        cache_dir=tmp_path,
    )
    assert [(c.start_s, c.end_s) for c in s.chunks] == spans
    for k, ((a, b), (lo, hi, question, _)) in enumerate(zip(spans, seen)):
        assert a <= lo and hi < b  # frames from inside the chunk only
        assert WORDS[k] in question and not any(w in question for w in WORDS if w != WORDS[k])
    # and each description is what the model says to exactly those inputs, made independently here
    fresh = load_model(str(ckpt), device="cpu")
    with open_video(video) as r:
        size = frame_size(r, 56, int(fresh.token_px))
        for k, ((a, b), c) in enumerate(zip(spans, s.chunks)):
            tokens = fresh.encode(r.frames_at_times(span_times(a, b, 2), size=size))
            want = fresh.generate(tokens, fresh.with_text(DESCRIBE_PROMPT, [lines[k]]), max_new_tokens=8)
            assert c.text == want.strip(), k
    assert s.text and s.levels == 0 and len(seen) == 4


def test_many_chunks_reduce_hierarchically_within_the_models_context(
    ckpt: Path, video: Path, tmp_path: Path
) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline

    pipe = Pipeline(
        config=PipelineConfig(model=str(ckpt), device="cpu", text="none", cache_dir=str(tmp_path))
    )
    seen = _recording(pipe.model)
    context, new = 260, 8
    s = pipe.summarize(
        video,
        chunk_s=0.5,
        align="none",
        frames=2,
        size_px=56,
        context_tokens=context,
        max_new_tokens=new,
        cache=False,
    )
    assert len(s.chunks) == 24 and s.levels >= 2, s.levels
    reduce_calls = seen[24:]
    assert len(reduce_calls) > s.levels
    # every reduce prompt as the model counted it (text, frame, template) leaves room for the answer
    assert all(0 < used <= context - new for *_, used in reduce_calls), [u for *_, u in reduce_calls]
    assert s.sections[0].start_s == 0.0 and s.sections[-1].end_s == pytest.approx(12.0, abs=0.2)


def test_a_killed_run_of_the_executable_resumes(ckpt: Path, video: Path, tmp_path: Path) -> None:
    env = cli_env(VIDEOPIPE_CACHE=str(tmp_path / "cache"))
    args = [
        *videopipe_command(), "summarize", str(video), "--model", str(ckpt), "--align", "none",
        "--chunk-s", "2", "--frames", "2", "--text", "none", "--json", "-q",
    ]  # fmt: skip
    store = tmp_path / "cache" / "descriptions"
    p = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(list(store.rglob("*.json"))) < 2 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert p.poll() is None, (
            f"the run ended before it could be killed: {p.stderr.read() if p.stderr else ''}"
        )
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        p.kill()
    assert p.returncode == -signal.SIGKILL
    done = {f: f.stat().st_mtime_ns for f in store.rglob("*.json")}
    assert 2 <= len(done) < 6
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["chunks"]) == 6 and data["cached"] == len(done)  # the killed run's chunks, read
    assert all(f.stat().st_mtime_ns == t for f, t in done.items())  # not described again
    assert len(list(store.rglob("*.json"))) == 6
