"""What the user sees on the model's long stages: progress(stage, done, total) from the
adapter while it encodes, prefills and generates, and the CLI's bar (`ask --progress`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from videopipe.testing.tiny_models import build_tiny_model
from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_smol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("smolvlm", tmp_path_factory.mktemp("m") / "tiny-smolvlm")


@pytest.mark.parametrize("family", ["smolvlm", "qwen2_5_vl"])
def test_the_model_reports_frames_prompt_and_tokens(family: str, tmp_path: Path) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.models import load_model
    from videopipe.pipeline import Pipeline

    model = load_model(build_tiny_model(family, tmp_path / family), device="cpu", frames_per_batch=4)
    cfg = PipelineConfig(
        num_frames=10, size_px=56, compressor="none", text="none", max_new_tokens=4, cache_dir=str(tmp_path)
    )
    pipe = Pipeline(model, config=cfg)
    seen: list[tuple[str, int, int]] = []
    pipe.model_progress = lambda stage, done, total: seen.append((stage, done, total))
    pipe.ask(make_video(scenes_video((20, 20), width=56, height=56)), "What happens?")
    enc = [(d, t) for s, d, t in seen if s == "encode"]
    assert enc[0] == (0, 10) and enc[-1] == (10, 10)  # 10 frames, in frames_per_batch steps
    assert len(enc) >= 4 and all(a[0] <= b[0] for a, b in zip(enc, enc[1:]))
    pre = [(d, t) for s, d, t in seen if s == "prefill"]
    assert pre[0][0] == 0 and pre[-1][0] == pre[-1][1] > 10
    gen = [(d, t) for s, d, t in seen if s == "generate"]
    assert all(t == 4 for _, t in gen) and [d for d, _ in gen] == list(range(1, len(gen) + 1))
    stages = [s for s, _, _ in seen]
    assert stages.index("prefill") > max(i for i, s in enumerate(stages) if s == "encode")


def test_ask_progress_bar_on_stderr_only_when_asked(tiny_smol: Path) -> None:
    video = make_video(scenes_video((20, 20), width=56, height=56))
    common = [str(video), "What happens?", "--model", str(tiny_smol), "--num-frames", "8", "--size", "56"]
    common += ["--max-new-tokens", "3", "--device", "cpu", "--no-cache", "--json"]

    def ask(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "videopipe", "ask", *common, *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )

    shown = ask("--progress")
    assert shown.returncode == 0, shown.stderr
    assert "encoding frames" in shown.stderr and "ETA" in shown.stderr
    assert "encoding frames" not in shown.stdout  # the answer's stream stays clean
    assert "Loading weights" not in shown.stderr  # transformers' bar (one line per tensor) stays off
    quiet = ask()  # stderr is a pipe here: nobody watches, no bar
    assert quiet.returncode == 0, quiet.stderr
    assert "encoding frames" not in quiet.stderr and "Loading weights" not in quiet.stderr
