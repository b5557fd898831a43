"""`videopipe ask` end to end with a tiny random Qwen2.5-VL saved to a temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from videopipe.testing.tiny_models import build_tiny_model
from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("qwen2_5_vl", tmp_path_factory.mktemp("m") / "tiny-qwen2.5-vl")


def _ask(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videopipe", "ask", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=None if env is None else {**os.environ, **env},
    )


def test_ask_json_with_a_tiny_model(tiny_qwen: Path, tmp_path: Path) -> None:
    spec = scenes_video((30, 30, 30, 30), needle=(2, "red"), width=112, height=84)
    video = make_video(spec)
    r = _ask(
        str(video),
        "When is the screen red?",
        "--model",
        str(tiny_qwen),
        "--num-frames",
        "12",
        "--size",
        "112",
        "--compressor",
        "temporal_merge",
        "--max-visual-tokens",
        "20",
        "--max-new-tokens",
        "5",
        "--device",
        "cpu",
        "--json",
        "--no-cache",
    )
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    assert isinstance(ans["text"], str) and ans["question"] == "When is the screen red?"
    duration = spec.num_frames / spec.fps
    assert ans["evidence"] and all(0 <= e["start_s"] <= e["end_s"] <= duration for e in ans["evidence"])
    st = ans["stats"]
    assert st["frames_selected"] == 12 and st["frames_decoded"] >= 12
    # 12 frames at 112x140 px -> 6 temporal patches of a 4x5-token grid (28 px per token)
    assert st["tokens_before"] == 6 * 20 and st["tokens_after"] == 20
    assert {"decode", "encode", "compress", "generate"} <= set(st["seconds"])


def test_ask_bad_input_is_one_line(tiny_qwen: Path, tmp_path: Path) -> None:
    video = make_video(scenes_video((10,), width=56, height=56))
    r = _ask(str(video), "  ", "--model", str(tiny_qwen))
    assert r.returncode == 2 and "empty question" in r.stderr and "Traceback" not in r.stderr
    r = _ask(str(tmp_path / "missing.mp4"), "What?", "--model", str(tiny_qwen))
    assert r.returncode == 2 and "missing.mp4" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"model_type": "bert"}')
    r = _ask(str(video), "What?", "--model", str(tmp_path / "cfg"))
    assert r.returncode == 2 and "qwen2_5_vl" in r.stderr  # lists the supported families


def test_ask_streams_the_answer_and_reports_a_failed_background_load(tiny_qwen: Path, tmp_path: Path) -> None:
    video = make_video(scenes_video((10, 10), width=56, height=56))
    common = ["--num-frames", "4", "--size", "56", "--max-new-tokens", "6", "--device", "cpu", "--no-cache"]
    r = _ask(str(video), "What is shown?", "--model", str(tiny_qwen), *common)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.splitlines()
    js = _ask(str(video), "What is shown?", "--model", str(tiny_qwen), *common, "--json")
    # the streamed pieces are the answer --json reports (greedy, same model)
    assert printed[0] == json.loads(js.stdout)["text"].strip()
    assert printed[-1].startswith("[4 frames,")
    # weights that do not load: the facts read fine, the background load fails, and the error
    # reaches the user as one line with the model error's exit code, not an abort
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_qwen.iterdir():
        (broken / f.name).write_bytes(b"not weights" if f.suffix == ".safetensors" else f.read_bytes())
    r = _ask(str(video), "What is shown?", "--model", str(broken), *common)
    assert r.returncode not in (0, 134, -6), r.stderr
    assert "broken" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_second_question_in_a_new_process_prefills_only_the_question(
    tiny_qwen: Path, tmp_path: Path
) -> None:
    """The token cache skips decode and encode, the prompt's KV cache on disk
    (``videopipe.prefix_store``) the video's prefill: the second process reads the video's rows."""
    video = make_video(scenes_video((10, 10), width=112, height=84))
    common = ["--model", str(tiny_qwen), "--num-frames", "4", "--size", "56", "--max-new-tokens", "4"]
    common += ["--device", "cpu", "--dtype", "float32", "--text", "none", "--json"]
    env = {"VIDEOPIPE_CACHE": str(tmp_path)}
    runs = [_ask(str(video), q, *common, env=env) for q in ("What colour is it?", "What happens at the end?")]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    first, second = (json.loads(r.stdout)["stats"] for r in runs)
    assert first["cached_tokens"] == 0 and list(tmp_path.glob("prefix-kv/*/*.safetensors"))
    # every visual token of the video (and the text before them) came from the file
    assert second["tokens_after"] < second["cached_tokens"] < second["prompt_tokens"]
    assert "encode" not in second["seconds"]  # tokens from the token cache


def test_several_questions_in_one_process(tiny_qwen: Path, tmp_path: Path) -> None:
    """``ask VIDEO Q1 Q2``: each question answered on its own, in order, by one process that
    encodes the video once (the second reads the tokens and the prompt's KV cache)."""
    video = make_video(scenes_video((10, 10), width=112, height=84))
    common = ["--model", str(tiny_qwen), "--num-frames", "4", "--size", "56", "--max-new-tokens", "4"]
    common += ["--device", "cpu", "--dtype", "float32", "--text", "none"]
    env = {"VIDEOPIPE_CACHE": str(tmp_path)}
    qs = ("What colour is it?", "What happens at the end?")
    r = _ask(str(video), *qs, *common, "--json", env=env)
    assert r.returncode == 0, r.stderr
    answers = json.loads(r.stdout)
    assert [a["question"] for a in answers] == list(qs)
    first, second = (a["stats"] for a in answers)
    assert "encode" in first["seconds"] and "encode" not in second["seconds"]
    assert first["cached_tokens"] == 0 and second["tokens_after"] < second["cached_tokens"]
    # each answer is the one a process asked that question alone gives (greedy, same model)
    alone = _ask(str(video), qs[1], *common, "--json", "--no-cache")
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["text"] == answers[1]["text"]
    # as text: each answer after its question, with its own stats line
    r = _ask(str(video), *qs, *common, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Q1: {qs[0]}" and f"Q2: {qs[1]}" in lines
    assert sum(line.startswith("[4 frames,") for line in lines) == 2
    # one bad question fails the run before anything is loaded, naming the problem
    r = _ask(str(video), qs[0], " ", *common, env=env)
    assert r.returncode == 2 and "empty question" in r.stderr and r.stdout == ""
