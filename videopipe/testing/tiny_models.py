"""Tiny random video-LLMs of the real architectures, for tests, benchmarks and notebooks.

``build_tiny_model(family, out_dir)`` writes a checkpoint directory (config, random weights,
a locally trained tiny tokenizer with the family's special tokens, the family's processor and
a chat template) that :func:`videopipe.models.load_model` loads like any hub checkpoint. No
download is involved; building one takes about a second on a laptop CPU.

The models are the real transformers classes (``Qwen2_5_VLForConditionalGeneration``, ...),
built from their real config classes with tiny sizes, so every code path of an adapter
(vision tower, merger/projector, M-RoPE, deepstack, pixel shuffle, ...) runs for real. Their
answers are random text, of course.

Frame sizes that give 2x2 visual tokens per frame (per temporal pair for Qwen):
``TINY_FRAME_PX[family]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "FAMILIES",
    "REAL_VIDEO_PIXELS",
    "TINY_FRAME_PX",
    "TOKEN_ROLES",
    "build_tiny_model",
    "family_processor",
    "set_video_pixels",
    "sized_tokenizer",
    "tiny_tokenizer",
]

FAMILIES = ("qwen2_5_vl", "qwen3_vl", "llava_onevision", "smolvlm")

#: frame side (px) at which the tiny model of each family makes a 2x2 token grid per frame
TINY_FRAME_PX = {"qwen2_5_vl": 56, "qwen3_vl": 64, "llava_onevision": 56, "smolvlm": 56}

#: the real checkpoints' video-processor pixel limits (shortest_edge, longest_edge): Qwen2.5-VL
#: per frame (128..768 tokens of 28x28 px), Qwen3-VL for all frames of a clip together
REAL_VIDEO_PIXELS = {"qwen2_5_vl": (128 * 28 * 28, 768 * 28 * 28), "qwen3_vl": (4096, 25165824)}

_CORPUS = [
    "What happens in this video? Describe the scene, the objects and the people.",
    "The video shows a red ball rolling across a green field, then a blue car drives past.",
    "Answer the question about the frames. The frames are at t=0.0s, t=12.5s and t=30.0s.",
    "You are a helpful assistant. user assistant system seconds frame from video frames",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 : . , ? ! = s t",
    "one two three four five six seven eight nine ten eleven twelve series of a [H:MM:SS]",
    "Frame from 00:00: Frame from 00:01: You are provided the following series of frames",
]

_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# ChatML with image/video content items, as in the Qwen-VL checkpoints (shortened).
_QWEN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_LLAVA_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
_LLAVA_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<image>\n{% elif content['type'] == 'video' %}<video>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_SMOL_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<end_of_utterance>",
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    "<video>",
] + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
# The SmolVLM2 template (shortened): "User:" / "Assistant:" turns ending in <end_of_utterance>.
_SMOL_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}"
    "{% if line['type'] == 'text' %}{{ line['text'] }}{% elif line['type'] == 'image' %}{{ '<image>' }}"
    "{% elif line['type'] == 'video' %}{{ '<video>' }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def _trained_bpe(vocab_size: int, special_tokens: list[str]) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on :data:`_CORPUS`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    return tok


def tiny_tokenizer(special_tokens: list[str], *, vocab_size: int = 320, **named: Any) -> Any:
    """A byte-level BPE tokenizer trained on a few sentences, with ``special_tokens`` added.

    ``named`` sets tokenizer attributes such as ``eos_token="<|im_end|>"``."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=_trained_bpe(vocab_size, special_tokens), **named)


def sized_tokenizer(base_vocab: int, specials: dict[int, str], *, base: Any = None, **named: Any) -> Any:
    """A tokenizer with a real checkpoint's vocabulary size and special-token ids.

    ``base`` (a transformers tokenizer with ``base_vocab`` entries, e.g. SmolLM2's from its
    GGUF) is used as it is; without it a byte-level BPE is trained on a few sentences and its
    vocabulary padded with unreachable filler entries to ``base_vocab``. Then every id of
    ``specials`` (id -> token) gets its token, the gaps between them reserved special tokens,
    so ``len(tokenizer) == max(specials) + 1``."""
    from tokenizers import AddedToken, Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    low = [specials[i] for i in sorted(specials) if i < base_vocab]  # inside the base vocabulary
    if base is None:
        trained = _trained_bpe(320, low)
        model = json.loads(trained.to_str())["model"]
        vocab: dict[str, int] = dict(model["vocab"])
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        for i in range(len(vocab), base_vocab):
            vocab[f"\u0120<filler{i}>"] = i
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        tok.pre_tokenizer, tok.decoder = trained.pre_tokenizer, trained.decoder
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in low])
    else:
        tok = base.backend_tokenizer
    for i in sorted(specials):
        if i < base_vocab and tok.token_to_id(specials[i]) != i:
            raise ValueError(f"base tokenizer has {specials[i]!r} at {tok.token_to_id(specials[i])}, not {i}")
    if tok.get_vocab_size(with_added_tokens=False) != base_vocab:
        raise ValueError(f"base tokenizer has {tok.get_vocab_size()} entries, expected {base_vocab}")
    have = tok.get_vocab(with_added_tokens=True)
    for i in range(base_vocab, max(specials) + 1):
        text = specials.get(i, f"<|reserved_{i}|>")
        if have.get(text) == i:
            continue
        tok.add_special_tokens([AddedToken(text, special=True, normalized=False)])
        if tok.token_to_id(text) != i:
            raise ValueError(f"special token {text!r} got id {tok.token_to_id(text)}, expected {i}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, **named)


#: the processor, image processor and video processor class of each family (transformers names)
_PROCESSOR_CLASSES = {
    "qwen2_5_vl": ("Qwen2_5_VLProcessor", "Qwen2VLImageProcessor", "Qwen2VLVideoProcessor"),
    "qwen3_vl": ("Qwen3VLProcessor", "Qwen2VLImageProcessor", "Qwen3VLVideoProcessor"),
    "llava_onevision": (
        "LlavaOnevisionProcessor",
        "LlavaOnevisionImageProcessor",
        "LlavaOnevisionVideoProcessor",
    ),
    "smolvlm": ("SmolVLMProcessor", "SmolVLMImageProcessor", "SmolVLMVideoProcessor"),
}
_TEMPLATES = {
    "qwen2_5_vl": _QWEN_TEMPLATE,
    "qwen3_vl": _QWEN_TEMPLATE,
    "llava_onevision": _LLAVA_TEMPLATE,
    "smolvlm": _SMOL_TEMPLATE,
}
_QWEN_ROLES: dict[str, Any] = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
#: the tokenizer attributes (eos, pad, named special tokens) of each family
TOKEN_ROLES: dict[str, dict[str, Any]] = {
    "qwen2_5_vl": _QWEN_ROLES,
    "qwen3_vl": _QWEN_ROLES,
    "llava_onevision": _QWEN_ROLES,
    "smolvlm": {
        "eos_token": "<end_of_utterance>",
        "pad_token": "<|endoftext|>",
        "extra_special_tokens": {
            "fake_image_token": "<fake_token_around_image>",
            "image_token": "<image>",
            "global_image_token": "<global-img>",
            "end_of_utterance_token": "<end_of_utterance>",
        },
    },
}


def family_processor(family: str, tokenizer: Any, settings: dict[str, Any]) -> Any:
    """The transformers processor of ``family`` around ``tokenizer``, with the project's chat
    template: ``settings["image"]`` / ``settings["video"]`` are the keyword arguments of its
    image / video processor, the other keys those of the processor itself."""
    import transformers

    proc, image, video = (getattr(transformers, n) for n in _PROCESSOR_CLASSES[family])
    extra = {k: v for k, v in settings.items() if k not in ("image", "video")}
    return proc(
        image_processor=image(**settings["image"]),
        video_processor=video(**settings["video"]),
        tokenizer=tokenizer,
        chat_template=_TEMPLATES[family],
        **extra,
    )


def _lm_text(vocab: int, eos: int, pad: int, lm: dict[str, int], **extra: Any) -> dict[str, Any]:
    """The text config of a tiny language model: ``vocab`` tokens, no BOS, ``lm``'s sizes."""
    return dict(
        vocab_size=vocab,
        bos_token_id=None,
        eos_token_id=eos,
        pad_token_id=pad,
        **lm,
        max_position_embeddings=4096,
        **extra,
    )


def _tiny_vision(px: int, **extra: Any) -> dict[str, Any]:
    """The vision config of a tiny ViT: two blocks of width 32 over ``px``-px frames, 14-px patches."""
    return dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=px,
        patch_size=14,
        **extra,
    )


def _qwen_text(
    vocab: int, eos: int, pad: int, lm: dict[str, int], *, head_dim: int | None = None
) -> dict[str, Any]:
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
    d = _lm_text(vocab, eos, pad, lm, rope_parameters=rope)
    if head_dim is not None:
        d["head_dim"] = head_dim
    return d


def _build_qwen_vl(
    out: Path,
    lm: dict[str, int],
    family: str,
    classes: tuple[Any, Any],
    *,
    patch: int,
    vision: dict[str, Any],
    video: dict[str, Any],
    text: dict[str, Any] | None = None,
) -> None:
    """A tiny Qwen-VL model of ``family`` (``classes``: its config and model classes): the
    shared tokens, two vision blocks with ``patch``-px patches, frames of 4 to 8 patches."""
    config_cls, model_cls = classes
    tok = tiny_tokenizer(_QWEN_SPECIALS, **TOKEN_ROLES[family])
    ids = {t: tok.convert_tokens_to_ids(t) for t in _QWEN_SPECIALS}
    text_config = _qwen_text(len(tok), ids["<|im_end|>"], ids["<|endoftext|>"], lm, head_dim=16)
    cfg = config_cls(
        text_config={**text_config, **(text or {})},
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=lm["hidden_size"],
            patch_size=patch,
            spatial_merge_size=2,
            temporal_patch_size=2,
            **vision,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    size = {"shortest_edge": (4 * patch) ** 2, "longest_edge": (2 * patch) ** 2 * 64}
    patches = dict(size=size, patch_size=patch, merge_size=2, temporal_patch_size=2)
    proc = family_processor(family, tok, {"image": patches, "video": dict(patches, **video)})
    _save(model_cls(cfg), proc, out)


def _build_qwen2_5_vl(out: Path, lm: dict[str, int]) -> None:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    _build_qwen_vl(
        out,
        lm,
        "qwen2_5_vl",
        (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration),
        patch=14,
        vision=dict(window_size=56, fullatt_block_indexes=[1], tokens_per_second=2),
        video=dict(cap_pixels_per_frame=False),
    )


def _build_qwen3_vl(out: Path, lm: dict[str, int]) -> None:
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    rope = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "mrope_section": [2, 3, 3],
        "mrope_interleaved": True,
    }
    _build_qwen_vl(
        out,
        lm,
        "qwen3_vl",
        (Qwen3VLConfig, Qwen3VLForConditionalGeneration),
        patch=16,
        vision=dict(num_position_embeddings=16, deepstack_visual_indexes=[0]),
        video=dict(do_sample_frames=False),
        text={"rope_parameters": rope},
    )


def _build_llava_onevision(out: Path, lm: dict[str, int]) -> None:
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration

    tok = tiny_tokenizer(_LLAVA_SPECIALS, **TOKEN_ROLES["llava_onevision"])
    ids = {t: tok.convert_tokens_to_ids(t) for t in _LLAVA_SPECIALS}
    px = TINY_FRAME_PX["llava_onevision"]
    cfg = LlavaOnevisionConfig(
        vision_config=_tiny_vision(px, model_type="siglip_vision_model"),
        text_config=_lm_text(len(tok), ids["<|im_end|>"], ids["<|endoftext|>"], lm, model_type="qwen2"),
        image_token_index=ids["<image>"],
        video_token_index=ids["<video>"],
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=[[px, px]],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    size = {"height": px, "width": px}
    proc = family_processor(
        "llava_onevision",
        tok,
        {
            "image": dict(size=size, image_grid_pinpoints=[[px, px]]),
            "video": dict(size=size),
            "num_image_tokens": (px // 14) ** 2,
            "vision_feature_select_strategy": "full",
        },
    )
    _save(LlavaOnevisionForConditionalGeneration(cfg), proc, out)


def _build_smolvlm(out: Path, lm: dict[str, int]) -> None:
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration

    tok = tiny_tokenizer(_SMOL_SPECIALS, **TOKEN_ROLES["smolvlm"])
    ids = {t: tok.convert_tokens_to_ids(t) for t in _SMOL_SPECIALS}
    px = TINY_FRAME_PX["smolvlm"]
    cfg = SmolVLMConfig(
        vision_config=_tiny_vision(px),
        text_config=_lm_text(
            len(tok), ids["<end_of_utterance>"], ids["<|endoftext|>"], lm, model_type="llama"
        ),
        scale_factor=2,
        image_token_id=ids["<image>"],
        eos_token_id=ids["<end_of_utterance>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    longest = {"longest_edge": px}
    proc = family_processor(
        "smolvlm",
        tok,
        {
            "image": dict(size=longest, max_image_size=longest, do_image_splitting=False, do_pad=True),
            "video": dict(size=longest, max_image_size=longest),
            "image_seq_len": ((px // 14) // 2) ** 2,
        },
    )
    _save(SmolVLMForConditionalGeneration(cfg), proc, out)


def _save(model: Any, processor: Any, out: Path) -> None:
    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)


_BUILDERS = {
    "qwen2_5_vl": _build_qwen2_5_vl,
    "qwen3_vl": _build_qwen3_vl,
    "llava_onevision": _build_llava_onevision,
    "smolvlm": _build_smolvlm,
}


def build_tiny_model(
    family: str, out_dir: str | Path, *, seed: int = 0, hidden_size: int = 64, num_layers: int = 2
) -> Path:
    """Write a tiny random checkpoint of ``family`` (one of :data:`FAMILIES`) to ``out_dir``
    and return that directory. The same ``seed`` gives the same weights.

    ``hidden_size`` (a multiple of 16) and ``num_layers`` size the language model (benchmarks
    use a larger one so that prefill cost dominates); the vision tower stays tiny."""
    import torch

    if family not in _BUILDERS:
        raise ValueError(f"unknown tiny model family {family!r}; valid: {', '.join(FAMILIES)}")
    if hidden_size < 16 or hidden_size % 16 or num_layers < 1:
        raise ValueError(
            f"hidden_size must be a multiple of 16 and num_layers >= 1, got {hidden_size}, {num_layers}"
        )
    heads = hidden_size // 16  # head_dim 16 (the M-RoPE sections [2, 3, 3] cover 16 / 2)
    lm = {
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": max(1, heads // 2),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        _BUILDERS[family](out, lm)
    return out


def set_video_pixels(model_dir: str | Path, min_pixels: int, max_pixels: int) -> None:
    """Give the Qwen checkpoint in ``model_dir`` video-processor pixel limits ``min_pixels``..
    ``max_pixels`` (the tiny builder caps frames at 64 tokens to keep tests fast; benchmarks
    and tests at real sizes use :data:`REAL_VIDEO_PIXELS`)."""
    import json

    p = Path(model_dir) / "processor_config.json"
    cfg = json.loads(p.read_text())
    cfg["video_processor"]["size"] = {"shortest_edge": int(min_pixels), "longest_edge": int(max_pixels)}
    p.write_text(json.dumps(cfg, indent=2))
