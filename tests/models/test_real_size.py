"""The published checkpoints' processors, token counts and prompts, at real widths and
vocabularies with the depth cut to one layer (videopipe.testing.real_size): what a user's
real checkpoint does, in seconds.

Tokens per frame are the published figures: SmolVLM2-2.2B 81 per frame at 384 px (27x27
SigLIP patches, pixel shuffle 3), SmolVLM2-256M/500M 64 per frame at 512 px (32x32 patches,
shuffle 4), Qwen2.5-VL (448/28)^2 = 256 per frame pair at 448 px, Qwen3-VL (448/32)^2 = 196
per pair, LLaVA-OneVision 196 per frame (27x27 patches pooled 2x2, rounded up)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tests.models._vlm_helpers import native_inputs, random_frames
from videopipe.testing.real_configs import REAL_SPECS
from videopipe.types import Frames

# the smallest published size of each family (and SmolVLM2's 2.2B: another tower and shuffle)
CUT = ("smolvlm2-256m", "smolvlm2-2.2b", "qwen2.5-vl-3b", "qwen3-vl-2b", "llava-ov-0.5b")
_PLACEHOLDER = {"smolvlm": "<image>", "qwen2_5_vl": "<|video_pad|>", "qwen3_vl": "<|video_pad|>"}
_PLACEHOLDER["llava_onevision"] = "<video>"


@pytest.fixture(scope="module")
def cut_dirs() -> dict[str, Path]:
    from videopipe.testing.real_size import build_real_model

    return {n: build_real_model(n, text_layers=1, vision_layers=1) for n in CUT}


@pytest.fixture(scope="module")
def cut_models(cut_dirs: dict[str, Path]) -> dict[str, object]:
    from videopipe.models import load_model

    return {n: load_model(d, device="cpu", dtype="bfloat16", frames_per_batch=4) for n, d in cut_dirs.items()}


def _frames(px: int, n: int = 4) -> Frames:
    return random_frames(px, n)


@pytest.mark.parametrize("name", sorted(REAL_SPECS))
def test_published_geometry(name: str) -> None:
    """The numbers behind each published token count agree with each other."""
    s = REAL_SPECS[name]
    vc, cfg = s.config["vision_config"], s.config
    if s.family == "smolvlm":
        assert s.processor["image_seq_len"] == s.tokens_per_frame
        assert ((s.frame_px // vc["patch_size"]) // cfg["scale_factor"]) ** 2 == s.tokens_per_frame
    elif s.family in ("qwen2_5_vl", "qwen3_vl"):
        side = vc["patch_size"] * vc["spatial_merge_size"]
        assert (s.frame_px // side) ** 2 == s.tokens_per_frame  # per temporal pair
        assert vc["out_hidden_size"] == s.config["text_config"]["hidden_size"]
    else:
        assert math.ceil((vc["image_size"] // vc["patch_size"]) / 2) ** 2 == s.tokens_per_frame
    # every special token id the config names is inside the tokenizer and the embedding table
    ids = [v for k, v in cfg.items() if k.endswith(("token_id", "token_index"))]
    assert ids and all(i in s.specials and i < s.config["text_config"]["vocab_size"] for i in ids)


@pytest.mark.parametrize("name", CUT)
def test_cut_checkpoint_keeps_real_width_and_vocabulary(name: str, cut_models: dict) -> None:
    s, m = REAL_SPECS[name], cut_models[name]
    tc = s.config["text_config"]
    assert m.model.config.get_text_config().hidden_size == tc["hidden_size"]
    assert m.model.get_input_embeddings().weight.shape[0] == tc["vocab_size"]
    assert len(m.tokenizer) == max(s.specials) + 1
    for i, text in s.specials.items():
        assert m.tokenizer.convert_tokens_to_ids(text) == i
    assert m.dtype == torch.bfloat16
    assert next(m.model.parameters()).dtype == torch.bfloat16


@pytest.mark.parametrize("name", CUT)
def test_tokens_per_frame_are_the_published_ones(name: str, cut_models: dict) -> None:
    s, m = REAL_SPECS[name], cut_models[name]
    per_unit = 2 if s.family.startswith("qwen") else 1  # Qwen: one grid per pair of frames
    frames = _frames(s.frame_px)
    tokens = m.encode(frames, duration_s=len(frames) / 2.0)  # as native_inputs says
    assert m.tokens_per_frame(s.frame_px, s.frame_px) == s.tokens_per_frame
    assert len(tokens) == len(frames) // per_unit * s.tokens_per_frame
    # transformers' own processor with the real settings writes as many placeholders
    text = m.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]}],
        add_generation_prompt=True,
    )
    ids = native_inputs(m, frames, text)["input_ids"][0]
    placeholder = m.tokenizer.convert_tokens_to_ids(_PLACEHOLDER[s.family])
    extra = 1 if s.family == "llava_onevision" else 0  # its image_newline
    assert int((ids == placeholder).sum()) == len(tokens) + extra
    ours = m.build_inputs(tokens, "What happens?").input_ids.reshape(-1)
    assert int((ours == placeholder).sum()) == len(tokens) + extra
    if not m.timestamps_in_text:  # no "Frames at t=..." line of ours: the very same prompt
        assert ours.tolist() == ids.tolist()


@pytest.mark.parametrize("name", CUT)
def test_ask_through_the_pipeline(name: str, cut_dirs: dict, cut_models: dict, tmp_path: Path) -> None:
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import Pipeline
    from videopipe.testing.videos import make_video, scenes_video

    s = REAL_SPECS[name]
    px = s.frame_px
    video = make_video(scenes_video((12, 12), width=px, height=px))
    cfg = PipelineConfig(
        model=str(cut_dirs[name]),
        num_frames=4,
        size_px=px,
        compressor="none",
        max_visual_tokens=None,
        cache_dir=str(tmp_path),
        text="none",
        max_new_tokens=3,
    )
    ans = Pipeline(cut_models[name], config=cfg).ask(video, "What happens in the video?")
    per_unit = 2 if s.family.startswith("qwen") else 1
    assert ans.stats.frames_selected == 4
    assert ans.stats.tokens_before == 4 // per_unit * s.tokens_per_frame == ans.stats.tokens_after
    assert isinstance(ans.text, str)


def test_loading_writes_no_progress_bar_of_transformers(cut_dirs: dict, tmp_path: Path) -> None:
    """transformers' "Loading weights" bar (one stderr update per tensor) is off while
    videopipe loads a checkpoint, and as it was afterwards."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from transformers.utils import logging as hf\n"
        "from videopipe.models import load_model\n"
        "load_model(sys.argv[1], device='cpu', dtype='bfloat16')\n"
        "print(hf.is_progress_bar_enabled())\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(cut_dirs["smolvlm2-256m"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Loading weights" not in r.stderr and "it/s" not in r.stderr
    assert r.stdout.strip() == "True"  # restored
