"""Bad input gives one clear videopipe error: empty question, unknown family, too few
frames, weights missing offline, tokens of another model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from _vlm_helpers import make_frames

from videopipe.errors import InputError, ModelError
from videopipe.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("question", ["", "   \n"])
def test_empty_question(adapters: dict[str, Any], question: str) -> None:
    ad = adapters["qwen2_5_vl"]
    tokens = ad.encode(make_frames("qwen2_5_vl", 2))
    with pytest.raises(InputError, match="question is empty"):
        ad.generate(tokens, question)


def test_question_with_special_tokens(adapters: dict[str, Any]) -> None:
    ad = adapters["qwen2_5_vl"]
    tokens = ad.encode(make_frames("qwen2_5_vl", 2))
    with pytest.raises(InputError, match="special token"):
        ad.generate(tokens, "what is <|video_pad|>?")


def test_unknown_generation_option(adapters: dict[str, Any]) -> None:
    ad = adapters["smolvlm"]
    tokens = ad.encode(make_frames("smolvlm", 1))
    with pytest.raises(InputError, match="num_beams"):
        ad.generate(tokens, "what?", num_beams=3)


def test_unknown_family_lists_supported(tmp_path: Path) -> None:
    from transformers import GPT2Config

    GPT2Config(n_layer=1, n_embd=8, n_head=2).save_pretrained(tmp_path)
    from videopipe.models import load_model

    with pytest.raises(ModelError) as e:
        load_model(tmp_path)
    msg = str(e.value)
    assert "'gpt2'" in msg
    for name in ("qwen2_5_vl", "qwen3_vl", "llava_onevision", "smolvlm"):
        assert name in msg


def test_not_a_checkpoint_dir(tmp_path: Path) -> None:
    from videopipe.models import load_model

    with pytest.raises(ModelError, match="not a loadable transformers checkpoint"):
        load_model(tmp_path)


def test_missing_weights_offline_is_one_clear_error() -> None:
    code = (
        "from videopipe.models import load_model\n"
        "from videopipe.errors import ModelError\n"
        "try:\n"
        "    load_model('videopipe-test/no-such-model')\n"
        "except ModelError as e:\n"
        "    print('MODELERROR', e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-videopipe-hf"}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "MODELERROR" in r.stdout
    assert "HF_HUB_OFFLINE" in r.stdout and "--model DIR" in r.stdout
    assert "Traceback" not in r.stderr


def test_wrong_family_entry(tiny_dirs: dict[str, Path]) -> None:
    with pytest.raises(ModelError, match="is a smolvlm checkpoint"):
        MODELS.create("qwen2_5_vl", model_id=str(tiny_dirs["smolvlm"]), device="cpu")


def test_zero_frames_is_an_input_error(adapters: dict[str, Any]) -> None:
    frames = make_frames("llava_onevision", 2)[torch.tensor([], dtype=torch.long)]
    with pytest.raises(InputError, match="0 frames"):
        adapters["llava_onevision"].encode(frames)


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_fewer_frames_than_the_temporal_patch_are_padded(adapters: dict[str, Any], family: str) -> None:
    """One frame for a model that needs pairs: the last frame is repeated (as transformers'
    processor does), the token belongs to the real frame, and the answer path runs."""
    ad = adapters[family]
    assert ad.min_frames == 2
    frames = make_frames(family, 1)
    tokens = ad.encode(frames)
    assert tokens.layout.padded_frames == 1 and tokens.layout.num_frames == 1
    assert set(tokens.frame_idx.tolist()) == {0}
    assert torch.isfinite(ad.forward_logits(tokens, "what?")).all()


def test_tokens_of_another_model_are_refused(adapters: dict[str, Any]) -> None:
    tokens = adapters["smolvlm"].encode(make_frames("smolvlm", 1))
    with pytest.raises(InputError, match="encoded by 'smolvlm'"):
        adapters["llava_onevision"].generate(tokens, "what?")


def test_token_outside_the_grid_is_refused(adapters: dict[str, Any]) -> None:
    from dataclasses import replace

    ad = adapters["llava_onevision"]
    tokens = ad.encode(make_frames("llava_onevision", 2))
    bad = replace(tokens, row=tokens.row + 5)
    with pytest.raises(InputError, match="not a position of the encoded"):
        ad.build_inputs(bad, "what?")


def test_registry_lists_the_families_without_importing_torch() -> None:
    code = (
        "import sys\n"
        "from videopipe.registry import MODELS\n"
        "print(MODELS.names())\n"
        "print('torch' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    names, torch_loaded = r.stdout.strip().splitlines()
    assert names == "['fake', 'llava_onevision', 'qwen2_5_vl', 'qwen3_vl', 'smolvlm']"
    assert torch_loaded == "False"


def test_budget_facts(adapters: dict[str, Any]) -> None:
    from videopipe.types import Budget

    for ad in adapters.values():
        h, w = ad.default_frame_size_px
        assert h % ad.token_px == 0 and w % ad.token_px == 0
        b = Budget(token_px=ad.token_px, size_px=min(h, w))
        assert b.tokens_per_frame(h, w) == ad.tokens_per_frame(h, w)
        assert ad.name == ad.family and ad.model_id
        assert ad.budget(num_frames=8).token_px == ad.token_px
    # exact counts match what encode makes (Qwen pairs frames; odd counts are padded)
    qwen = adapters["qwen2_5_vl"]
    px = qwen.token_px * 2
    assert len(qwen.encode(make_frames("qwen2_5_vl", 3))) == qwen.tokens_for(3, px, px) == 2 * 4
    smol = adapters["smolvlm"]
    assert len(smol.encode(make_frames("smolvlm", 3))) == smol.tokens_for(3, 56, 56) == 3 * 4


def test_tokens_of_another_checkpoint_of_the_family_are_refused(
    adapters: dict[str, Any], tmp_path: Path
) -> None:
    from videopipe.models import load_model
    from videopipe.testing.tiny_models import build_tiny_model

    wide = load_model(build_tiny_model("smolvlm", tmp_path / "wide", hidden_size=96), device="cpu")
    tokens = adapters["smolvlm"].encode(make_frames("smolvlm", 1))
    with pytest.raises(InputError, match="do not fit"):
        wide.generate(tokens, "what?")
