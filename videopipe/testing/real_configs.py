"""The published architectures and processor settings of the checkpoints users run, as data.

Each :class:`RealSpec` holds what ``config.json`` (architecture), ``preprocessor_config.json`` /
``video_preprocessor_config.json`` / ``processor_config.json`` (pixel limits, tokens per image,
frame sampling) and ``tokenizer_config.json`` / ``added_tokens.json`` (vocabulary size, special
token ids) of the hub checkpoint say, trimmed to the keys that change compute, memory, token
counts or prompts. Where each number comes from: ``sources`` and the table in docs/models.md.
:mod:`videopipe.testing.real_size` builds random-weight checkpoints from them.
"""

from __future__ import annotations

from typing import Any

from videopipe.testing.real_spec import RealSpec, _published

__all__ = ["REAL_SPECS", "RealSpec"]


def _spec(name: str, hub_id: str, family: str, *, config: dict[str, Any], **fields: Any) -> RealSpec:
    """A checkpoint's spec; its config.json's ``model_type`` is the family's name."""
    return RealSpec(
        name=name, hub_id=hub_id, family=family, config=dict(model_type=family, **config), **fields
    )


# -- SmolVLM2 ------------------------------------------------------------------------------------
# added_tokens.json: <global-img> 49152, <row_r_col_c> 49153..49188, <fake_token_around_image>
# 49189, <image> 49190, ..., <end_of_utterance> 49279 (generation_config.json eos 49279)
_SMOL_SPECIALS = {
    0: "<|endoftext|>",  # SmolLM2's tokenizer: 0..2, then 49149 more entries
    1: "<|im_start|>",
    2: "<|im_end|>",
    49152: "<global-img>",
    **{49153 + 6 * (r - 1) + (c - 1): f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)},
    49189: "<fake_token_around_image>",
    49190: "<image>",
    49279: "<end_of_utterance>",
}
_SMOL_SIGLIP_400M = dict(  # google/siglip-so400m-patch14-384 geometry, as in the 2.2B config
    hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16, patch_size=14
)
_SMOL_SIGLIP_B16 = dict(  # google/siglip-base-patch16-512 geometry, as in the 256M/500M configs
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, patch_size=16
)


def _smol_text(hidden: int, inter: int, layers: int, heads: int, kv: int, theta: float) -> dict[str, Any]:
    return dict(
        model_type="llama",
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        head_dim=64,
        vocab_size=49280,
        rms_norm_eps=1e-5,
        rope_theta=theta,
        max_position_embeddings=8192,
        tie_word_embeddings=False,
    )


def _smol_processor(side: int, size: int, seq: int) -> dict[str, Any]:
    sampling = {"fps": 1, "max_frames": 64, "video_size": {"longest_edge": side}}
    return {
        "image_seq_len": seq,
        "image": dict(
            size={"longest_edge": size},
            max_image_size={"longest_edge": side},
            do_image_splitting=True,
            video_sampling=sampling,
        ),
        "video": dict(
            size={"longest_edge": size},
            max_image_size={"longest_edge": side},
            fps=1,
            num_frames=64,
            video_sampling=sampling,
        ),
    }


def _smol(
    name: str,
    hub_id: str,
    *,
    vision: dict[str, int],
    side: int,
    scale: int,
    size: int,
    text: dict,
    mme: float,
) -> RealSpec:
    seq = ((side // vision["patch_size"]) // scale) ** 2
    spec = _spec(
        name,
        hub_id,
        "smolvlm",
        config=dict(
            scale_factor=scale,
            image_token_id=49190,
            pad_token_id=2,
            tie_word_embeddings=False,
            vision_config=dict(**vision, image_size=side, model_type="smolvlm_vision"),
            text_config=text,
        ),
        processor=_smol_processor(side, size, seq),
        specials=_SMOL_SPECIALS,
        base_vocab=49152,
        frame_px=side,
        tokens_per_frame=seq,
    )
    files = ("config.json", "preprocessor_config.json", "processor_config.json", "added_tokens.json")
    return _published(spec, *files, mme=mme)


# -- Qwen ------------------------------------------------------------------------------------------
_QWEN_SPECIALS = {
    151643: "<|endoftext|>",
    151644: "<|im_start|>",
    151645: "<|im_end|>",
    151646: "<|object_ref_start|>",
    151647: "<|object_ref_end|>",
    151648: "<|box_start|>",
    151649: "<|box_end|>",
    151650: "<|quad_start|>",
    151651: "<|quad_end|>",
    151652: "<|vision_start|>",
    151653: "<|vision_end|>",
    151654: "<|vision_pad|>",
    151655: "<|image_pad|>",
    151656: "<|video_pad|>",
    151657: "<tool_call>",
    151658: "</tool_call>",
    151659: "<|fim_prefix|>",
    151660: "<|fim_middle|>",
    151661: "<|fim_suffix|>",
    151662: "<|fim_pad|>",
    151663: "<|repo_name|>",
    151664: "<|file_sep|>",
}
_QWEN3_SPECIALS = {
    **_QWEN_SPECIALS,
    151665: "<tool_response>",
    151666: "</tool_response>",
    151667: "<think>",
    151668: "</think>",
}
# the ids both generations give their vision tokens and text ends (Qwen2.5-VL writes them all at
# the top of config.json, Qwen3-VL the text ends in its text_config)
_QWEN_VISION_IDS = dict(
    image_token_id=151655,
    video_token_id=151656,
    vision_start_token_id=151652,
    vision_end_token_id=151653,
)
_QWEN_TEXT_IDS = dict(bos_token_id=151643, eos_token_id=151645)
_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def _qwen_processor(
    image_px: tuple[int, int],
    video_px: tuple[int, int],
    *,
    patch: int,
    mean: list[float],
    std: list[float],
    **video: Any,
) -> dict[str, Any]:
    """A Qwen-VL checkpoint's image and video processor settings: the two share patching and
    normalisation and differ in their (shortest, longest) pixel limits; the video's also sample
    frames (fps 2, 4..768 frames, and ``video``'s extra keys)."""

    def one(px: tuple[int, int]) -> dict[str, Any]:
        return dict(
            size={"shortest_edge": px[0], "longest_edge": px[1]},
            patch_size=patch,
            merge_size=2,
            temporal_patch_size=2,
            image_mean=mean,
            image_std=std,
        )

    return {
        "image": one(image_px),
        "video": {**one(video_px), "fps": 2, "min_frames": 4, "max_frames": 768, **video},
    }


def _qwen(
    name: str,
    hub_id: str,
    family: str,
    *,
    tie: bool,
    text_config: dict[str, Any],
    vision_config: dict[str, Any],
    processor: dict[str, Any],
    specials: dict[int, str],
    tokens_per_frame: int,
    **top: Any,
) -> RealSpec:
    """A Qwen-VL checkpoint's spec: what Qwen2.5-VL and Qwen3-VL share (the vision token ids and
    then ``top`` at the top of config.json, tied embeddings stated at both levels, the
    vocabulary's base, 448 px frames)."""
    return _spec(
        name,
        hub_id,
        family,
        config=dict(
            **_QWEN_VISION_IDS,
            **top,
            tie_word_embeddings=tie,
            text_config=dict(**text_config, tie_word_embeddings=tie),
            vision_config=vision_config,
        ),
        processor=processor,
        specials=specials,
        base_vocab=151643,
        frame_px=448,
        tokens_per_frame=tokens_per_frame,
    )


def _qwen_vision(
    tower: dict[str, Any], *, hidden_act: str, out_hidden_size: int, patch_size: int, **more: Any
) -> dict[str, Any]:
    """A Qwen-VL vision_config: the tower's size (depth, hidden and intermediate size), then the
    fields both generations state (16 heads, 2x2 spatial merge, 2 frames per temporal patch), then
    ``more``."""
    return dict(
        **tower,
        num_heads=16,
        hidden_act=hidden_act,
        out_hidden_size=out_hidden_size,
        patch_size=patch_size,
        spatial_merge_size=2,
        temporal_patch_size=2,
        **more,
    )


def _qwen25(name: str, hub_id: str, *, text: dict[str, Any], vocab: int, tie: bool, mme: float) -> RealSpec:
    spec = _qwen(
        name,
        hub_id,
        "qwen2_5_vl",
        tie=tie,
        text_config=dict(
            **text,
            vocab_size=vocab,
            rms_norm_eps=1e-6,
            max_position_embeddings=128000,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
        ),
        vision_config=_qwen_vision(
            dict(depth=32, hidden_size=1280, intermediate_size=3420),
            hidden_act="silu",
            out_hidden_size=text["hidden_size"],
            patch_size=14,
            window_size=112,
            fullatt_block_indexes=[7, 15, 23, 31],
            tokens_per_second=2,
        ),
        # preprocessor_config.json: min_pixels 3136, max_pixels 12845056 (images); no
        # video_preprocessor_config.json: transformers' Qwen2VLVideoProcessor defaults (128..768
        # tokens of 28x28 px per frame, fps 2, 4..768 frames), as qwen-vl-utils
        processor=_qwen_processor(
            (3136, 12845056),
            (128 * 28 * 28, 768 * 28 * 28),
            patch=14,
            mean=_CLIP_MEAN,
            std=_CLIP_STD,
            cap_pixels_per_frame=False,  # transformers' behaviour so far (and the adapter's)
        ),
        specials=_QWEN_SPECIALS,
        tokens_per_frame=(448 // 28) ** 2,  # per pair of frames
        **_QWEN_TEXT_IDS,
    )
    note = "transformers Qwen2VLVideoProcessor defaults (no video_preprocessor_config.json in the repo)"
    files = ("config.json", "preprocessor_config.json", "tokenizer_config.json")
    return _published(spec, *files, mme=mme, notes={"video processor": note})


def _qwen3(
    name: str,
    hub_id: str,
    *,
    text: dict[str, Any],
    vision: dict[str, Any],
    deepstack: list[int],
    tie: bool,
    mme: float | None,
) -> RealSpec:
    spec = _qwen(
        name,
        hub_id,
        "qwen3_vl",
        tie=tie,
        text_config=dict(
            **text,
            head_dim=128,
            vocab_size=151936,
            rms_norm_eps=1e-6,
            max_position_embeddings=262144,
            **_QWEN_TEXT_IDS,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 5e6,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
        ),
        vision_config=_qwen_vision(
            vision,
            hidden_act="gelu_pytorch_tanh",
            out_hidden_size=text["hidden_size"],
            patch_size=16,
            num_position_embeddings=2304,
            deepstack_visual_indexes=deepstack,
        ),
        # video_preprocessor_config.json: 4096..25165824 px for all frames of a clip
        processor=_qwen_processor(
            (65536, 16777216),
            (4096, 25165824),
            patch=16,
            mean=[0.5, 0.5, 0.5],
            std=[0.5, 0.5, 0.5],
            do_sample_frames=False,
        ),
        specials=_QWEN3_SPECIALS,
        tokens_per_frame=(448 // 32) ** 2,  # per pair of frames
    )
    files = (
        "config.json",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        "tokenizer_config.json",
    )
    return _published(spec, *files, mme=mme)


# -- LLaVA-OneVision -------------------------------------------------------------------------------
_LLAVA_SPECIALS = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"}
_LLAVA_SPECIALS |= {151646: "<image>", 151647: "<video>"}
_SIGLIP_SO400M_26 = dict(  # so400m with its last layer dropped (vision_feature_layer -1)
    model_type="siglip_vision_model",
    hidden_size=1152,
    intermediate_size=4304,
    num_hidden_layers=26,
    num_attention_heads=16,
    image_size=384,
    patch_size=14,
)
_PINPOINTS = [[384 * a, 384 * b] for a in range(1, 7) for b in range(1, 7)]


def _llava(name: str, hub_id: str, *, text: dict[str, Any], vocab: int, tie: bool, mme: float) -> RealSpec:
    spec = _spec(
        name,
        hub_id,
        "llava_onevision",
        config=dict(
            image_token_index=151646,
            video_token_index=151647,
            vision_feature_select_strategy="full",
            vision_feature_layer=-1,
            vision_aspect_ratio="anyres_max_9",
            projector_hidden_act="gelu",
            image_grid_pinpoints=_PINPOINTS,
            tie_word_embeddings=tie,
            vision_config=_SIGLIP_SO400M_26,
            text_config=dict(
                model_type="qwen2",
                **text,
                vocab_size=vocab,
                rms_norm_eps=1e-6,
                rope_theta=1e6,
                max_position_embeddings=32768,
                bos_token_id=151643,
                eos_token_id=151645,
                tie_word_embeddings=tie,
            ),
        ),
        processor={
            "num_image_tokens": 729,
            "vision_feature_select_strategy": "full",
            "image": dict(
                size={"height": 384, "width": 384},
                image_grid_pinpoints=_PINPOINTS,
                image_mean=[0.5, 0.5, 0.5],
                image_std=[0.5, 0.5, 0.5],
            ),
            "video": dict(
                size={"height": 384, "width": 384}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
            ),
        },
        specials=_LLAVA_SPECIALS,
        base_vocab=151643,
        frame_px=384,
        tokens_per_frame=14 * 14,  # 27x27 SigLIP patches, 2x2 bilinear pooling (ceil)
    )
    files = ("config.json", "preprocessor_config.json", "video_preprocessor_config.json")
    files += ("processor_config.json", "added_tokens.json")
    return _published(spec, *files, mme=mme, mme_source="LLaVA-OneVision paper (arXiv 2408.03326), Table 3")


def _qwen2_text(hidden: int, inter: int, layers: int, heads: int, kv: int) -> dict[str, Any]:
    return dict(
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
    )


# fmt: off
# (name, hub id, vision tower, frame side, pixel-shuffle scale, image size, text model as
# (hidden, intermediate, layers, heads, kv heads, rope theta), Video-MME)
_SMOL_SIZES = [
    ("smolvlm2-256m", "HuggingFaceTB/SmolVLM2-256M-Video-Instruct", _SMOL_SIGLIP_B16, 512, 4, 2048, (576, 1536, 30, 9, 3, 100000.0), 33.7),
    ("smolvlm2-500m", "HuggingFaceTB/SmolVLM2-500M-Video-Instruct", _SMOL_SIGLIP_B16, 512, 4, 2048, (960, 2560, 32, 15, 5, 100000.0), 42.2),
    ("smolvlm2-2.2b", "HuggingFaceTB/SmolVLM2-2.2B-Instruct", _SMOL_SIGLIP_400M, 384, 3, 1536, (2048, 8192, 24, 32, 32, 130000.0), 52.1),
]
# (name, hub id, text model as (hidden, intermediate, layers, heads, kv heads), vocabulary,
# tied embeddings, Video-MME)
_QWEN25_SIZES = [
    ("qwen2.5-vl-3b", "Qwen/Qwen2.5-VL-3B-Instruct", (2048, 11008, 36, 16, 2), 151936, True, 61.5),
    ("qwen2.5-vl-7b", "Qwen/Qwen2.5-VL-7B-Instruct", (3584, 18944, 28, 28, 4), 152064, False, 65.1),
]
_LLAVA_SIZES = [
    ("llava-ov-0.5b", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", (896, 4864, 24, 14, 2), 151936, True, 44.0),
    ("llava-ov-7b", "llava-hf/llava-onevision-qwen2-7b-ov-hf", (3584, 18944, 28, 28, 4), 152128, False, 58.2),
]
_QWEN3_SIGLIP2_L = dict(depth=24, hidden_size=1024, intermediate_size=4096)
_QWEN3_SIGLIP2_SO400M = dict(depth=27, hidden_size=1152, intermediate_size=4304)
# (name, hub id, text model as above, vision tower, deepstack layers, tied embeddings); no
# Video-MME on their model cards
_QWEN3_SIZES = [
    ("qwen3-vl-2b", "Qwen/Qwen3-VL-2B-Instruct", (2048, 6144, 28, 16, 8), _QWEN3_SIGLIP2_L, [5, 11, 17], True),
    ("qwen3-vl-4b", "Qwen/Qwen3-VL-4B-Instruct", (2560, 9728, 36, 32, 8), _QWEN3_SIGLIP2_L, [5, 11, 17], True),
    ("qwen3-vl-8b", "Qwen/Qwen3-VL-8B-Instruct", (4096, 12288, 36, 32, 8), _QWEN3_SIGLIP2_SO400M, [8, 16, 24], False),
]
# fmt: on

_SPECS = [
    *(
        _smol(name, hub, vision=v, side=side, scale=scale, size=size, text=_smol_text(*text), mme=mme)
        for name, hub, v, side, scale, size, text, mme in _SMOL_SIZES
    ),
    *(
        _qwen25(name, hub, text=_qwen2_text(*text), vocab=vocab, tie=tie, mme=mme)
        for name, hub, text, vocab, tie, mme in _QWEN25_SIZES
    ),
    *(
        _qwen3(name, hub, text=_qwen2_text(*text), vision=v, deepstack=deep, tie=tie, mme=None)
        for name, hub, text, v, deep, tie in _QWEN3_SIZES
    ),
    *(
        _llava(name, hub, text=_qwen2_text(*text), vocab=vocab, tie=tie, mme=mme)
        for name, hub, text, vocab, tie, mme in _LLAVA_SIZES
    ),
]

#: name -> spec, for every published checkpoint videopipe supports at real size
REAL_SPECS: dict[str, RealSpec] = {s.name: s for s in _SPECS}
