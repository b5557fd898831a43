"""The line ``ask`` shows before a run it estimates at over a minute on the CPU (and only then)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import videopipe.cli.estimate as estimate
from videopipe.cli.estimate import RunShape, estimate_line, estimate_seconds, run_shape
from videopipe.config import PipelineConfig

SHAPE = RunShape(
    vision_params=100_000_000,
    text_params=360_000_000,
    patches_per_frame=1024,
    frames=16,
    prompt_tokens=1124,
    new_tokens=128,
    weight_bytes=10**9,
)


def test_the_estimate_grows_with_frames_and_shrinks_with_cores() -> None:
    from dataclasses import replace

    base = estimate_seconds(SHAPE, cores=2)
    assert estimate_seconds(replace(SHAPE, frames=64), cores=2) > base > estimate_seconds(SHAPE, cores=8)
    assert estimate_seconds(SHAPE, cores=2, bf16_native=False) > base  # float32 is slower
    assert estimate_seconds(replace(SHAPE, text_params=2 * SHAPE.text_params), cores=2) > base


def test_the_line_is_shown_only_past_a_minute() -> None:
    assert estimate_line(59.0, frames=16, cores=2) is None
    assert estimate_line(60.0, frames=16, cores=2) is None
    line = estimate_line(150.0, frames=64, cores=2)
    assert line is not None and "about 2 min" in line and "64 frames" in line and "2 CPU cores" in line
    assert "\n" not in line and line.startswith("videopipe: ")
    assert "about 2.0 h" in (estimate_line(7200.0, frames=64, cores=1) or "")


@pytest.fixture
def fake_checkpoint(tmp_path: Path) -> Path:
    """config.json and a safetensors file whose tensors are counted (small, known shapes)."""
    from safetensors.numpy import save_file

    d = tmp_path / "ckpt"
    d.mkdir()
    cfg = {"scale_factor": 4, "vision_config": {"image_size": 512, "patch_size": 16}}
    (d / "config.json").write_text(json.dumps(cfg))
    z = np.zeros
    tensors = {
        "model.vision_model.encoder.layers.0.mlp.fc1.weight": z((30, 10), np.float16),  # 300 vision
        "model.connector.modality_projection.proj.weight": z((5, 4), np.float16),  # 20 vision
        "model.text_model.embed_tokens.weight": z((100, 8), np.float16),  # lookup: not counted
        "model.text_model.layers.0.mlp.up_proj.weight": z((8, 50), np.float16),  # 400 text
        "lm_head.weight": z((100, 8), np.float32),  # 800 text, 4 bytes each
    }
    save_file(tensors, str(d / "model.safetensors"))
    return d


def test_the_run_shape_is_read_from_the_checkpoint_files(fake_checkpoint: Path) -> None:
    cfg = PipelineConfig(model=str(fake_checkpoint), num_frames=64, max_visual_tokens=2048, max_new_tokens=50)
    s = run_shape(cfg)
    assert s is not None
    assert (s.vision_params, s.text_params, s.head_params) == (320, 400, 800)
    assert s.weight_bytes == 2 * (300 + 20 + 800 + 400) + 4 * 800
    assert s.patches_per_frame == (512 // 16) ** 2
    assert s.frames == 64 and s.new_tokens == 50
    assert s.prompt_tokens == 2048 + 100  # 64 x 64 tokens capped at max_visual_tokens, plus the text
    short = run_shape(cfg, video_frames=10)  # a 10-frame video has 10 frames to encode
    assert short is not None and short.frames == 10 and short.prompt_tokens == 10 * 64 + 100
    assert run_shape(PipelineConfig(model="no/such-model-in-the-cache")) is None


def test_a_tied_output_head_is_the_embedding_table(fake_checkpoint: Path) -> None:
    from safetensors.numpy import load_file, save_file

    f = fake_checkpoint / "model.safetensors"
    tensors = load_file(str(f))
    del tensors["lm_head.weight"]  # tied: the logits read the embedding table
    save_file(tensors, str(f))
    s = run_shape(PipelineConfig(model=str(fake_checkpoint)))
    assert s is not None and (s.text_params, s.head_params) == (400, 100 * 8)


# measured 2026-12-07 (benchmarks/results/real_size.md, 16 frames of the 1-hour 720p video, the
# defaults, 2 cores): the shapes run_shape reads from those checkpoints, and the whole process's
# wall seconds for the first question (which quantized) and for a second one (tokens and prompt
# KV cached)
MEASURED = {
    "smolvlm2-500m": (RunShape(98_000_000, 362_000_000, 1024, 16, 1124, 128, 10**9, 47_000_000), 28.6, 15.1),
    "llava-ov-0.5b": (
        RunShape(415_000_000, 358_000_000, 729, 16, 2148, 128, 18 * 10**8, 136_000_000),
        62.2,
        14.5,
    ),
    "qwen3-vl-2b": (
        RunShape(407_000_000, 1_409_000_000, 696, 16, 2148, 128, 43 * 10**8, 311_000_000),
        97.2,
        29.5,
    ),
    "qwen2.5-vl-3b": (
        RunShape(669_000_000, 2_775_000_000, 910, 16, 2148, 128, 75 * 10**8, 311_000_000),
        152.3,
        45.7,
    ),
    "qwen2.5-vl-7b": (
        RunShape(677_000_000, 7_071_000_000, 910, 16, 2148, 128, 166 * 10**8, 545_000_000),
        276.3,
        78.5,
    ),
    "llava-ov-7b": (
        RunShape(430_000_000, 6_526_000_000, 729, 16, 2148, 128, 161 * 10**8, 545_000_000),
        246.5,
        66.1,
    ),
}


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_the_rates_give_the_measured_times_at_real_size(name: str) -> None:
    """Arithmetic against the recorded measurements (not a timing of this machine): the rates
    put both questions of every measured checkpoint within 25 % of what they took."""
    from dataclasses import replace

    shape, first, second = MEASURED[name]
    assert 0.75 < estimate_seconds(shape, cores=2, quantizes=True) / first < 1.25
    again = replace(shape, frames=0, prompt_tokens=estimate._QUESTION_TOKENS)
    assert 0.75 < estimate_seconds(again, cores=2) / second < 1.25


def test_weights_that_are_not_safetensors_give_no_estimate(fake_checkpoint: Path) -> None:
    # the first 8 bytes read as a header length far past the file's end: no line, no
    # MemoryError (loading the weights reports the damage)
    (fake_checkpoint / "model.safetensors").write_bytes(b"not weights")
    cfg = PipelineConfig(model=str(fake_checkpoint), device="cpu")
    with pytest.raises(ValueError, match="not a safetensors"):
        run_shape(cfg)
    assert estimate.warn_if_long(cfg) is None


@pytest.fixture(scope="module")
def tiny_smolvlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from videopipe.testing.tiny_models import build_tiny_model

    return build_tiny_model("smolvlm", tmp_path_factory.mktemp("m") / "tiny-smolvlm")


def test_ask_shows_the_line_before_a_long_run_only(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    tiny_smolvlm: Path,
    video: Path,
    tmp_path: Path,
) -> None:
    """The command as users run it (in-process), its estimate made long by decoding and encoding
    frames: the line comes first on stderr on the first question, not on the second (the token
    cache holds the video's tokens: nothing is decoded or encoded), and never with --no-progress."""
    from videopipe.cli.app import main

    monkeypatch.setenv("VIDEOPIPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("videopipe.config.machine_defaults", lambda device="auto": {"num_frames": 16})
    seen: list[tuple[int, int]] = []

    def seconds(shape: RunShape, **kw: object) -> float:
        seen.append((shape.frames, shape.prompt_tokens))
        return 3600.0 if shape.frames else 30.0

    monkeypatch.setattr(estimate, "estimate_seconds", seconds)
    args = [
        "--model",
        str(tiny_smolvlm),
        "-n",
        "4",
        "--device",
        "cpu",
        "--max-new-tokens",
        "2",
        "--text",
        "none",
    ]
    assert main(["ask", str(video), "What happens?", *args]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err and err[0].startswith("videopipe: this question will take about 60 min") and "4 frames" in err[0]
    )
    assert main(["ask", str(video), "And then?", *args]) == 0  # the tokens are cached now
    assert "will take" not in capsys.readouterr().err
    # the second estimate counted no frame to decode or encode, and only the question to
    # prefill (the prompt's KV cache is on disk)
    assert [frames for frames, _ in seen] == [4, 0]
    assert seen[0][1] > seen[1][1] == estimate._QUESTION_TOKENS
    assert main(["ask", str(video), "What?", *args, "--no-cache", "--no-progress"]) == 0
    assert "will take" not in capsys.readouterr().err  # --no-progress: no line
