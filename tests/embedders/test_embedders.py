"""Embedders: the deterministic ``color`` embedder and CLIP/SigLIP through transformers
(tiny random models + a locally trained tokenizer, saved and loaded back through production code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videopipe.errors import InputError, ModelError
from videopipe.registry import EMBEDDERS
from videopipe.testing.videos import NEEDLE_COLORS, _texture


def _flat(rgb: tuple[int, int, int], h: int = 48, w: int = 64) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[:] = rgb
    return img


def test_registry_lists_color_and_clip() -> None:
    assert {"color", "clip"} <= set(EMBEDDERS.names())


def test_color_embedder_matches_colour_words_to_needles() -> None:
    emb = EMBEDDERS.create("color")
    names = list(NEEDLE_COLORS)
    imgs = np.stack([_flat(NEEDLE_COLORS[n]) for n in names] + [_texture(3, 48, 64)[:48, :64]])
    iv = emb.embed_images(torch.from_numpy(imgs))
    assert iv.shape == (len(names) + 1, emb.dim) and iv.dtype == torch.float32
    assert torch.allclose(iv.norm(dim=1), torch.ones(len(imgs)), atol=1e-5)
    tv = emb.embed_texts([f"when is the screen {n}?" for n in names])
    sims = tv @ iv.T
    # each colour question is most similar to its own needle, and much more than to a texture
    assert sims[:, : len(names)].argmax(dim=1).tolist() == list(range(len(names)))
    assert bool((sims.diagonal() > 0.9).all()) and bool((sims[:, -1] < 0.5).all())
    # synonyms and the "other" dimension
    assert torch.allclose(emb.embed_texts(["a crimson wall"]), emb.embed_texts(["red"]))
    assert emb.embed_texts(["what happens?"])[0, -1] == 1.0
    with pytest.raises(InputError, match="list of strings"):
        emb.embed_texts("red")
    with pytest.raises(InputError, match="uint8"):
        emb.embed_images(torch.zeros(1, 4, 4, 3))


def _tokenizer(tmp: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = ["when is the screen red ?", "a cat on a mat", "the blue sky", "a person riding a bike"]
    trainer = trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"])
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(tmp)
    return fast


def _save_tiny(kind: str, tmp: Path) -> Path:
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
    )

    torch.manual_seed(0)
    tok = _tokenizer(tmp)
    text = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=16,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.bos_token_id,
    )
    vision = dict(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    if kind == "clip":
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
        proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    else:
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
        proc = SiglipImageProcessor(size={"height": 32, "width": 32})
    model.save_pretrained(tmp)
    proc.save_pretrained(tmp)
    return tmp


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_clip_embedder_equals_model_features(kind: str, tmp_path: Path) -> None:
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    path = _save_tiny(kind, tmp_path)
    emb = EMBEDDERS.create("clip", model_id=str(path), device="cpu", batch_size=2)
    assert emb.family == kind and emb.space == f"{kind}:{path}"
    imgs = torch.from_numpy(np.stack([_flat(c, 40, 56) for c in NEEDLE_COLORS.values()][:3]))
    texts = ["when is the screen red ?", "a cat on a mat", "the blue sky"]
    iv, tv = emb.embed_images(imgs), emb.embed_texts(texts)
    assert iv.shape == (3, emb.dim) and tv.shape == (3, emb.dim)

    # reference: the model's own features, computed independently, normalised
    model = AutoModel.from_pretrained(path).eval()
    pix = AutoImageProcessor.from_pretrained(path)(images=[i.numpy() for i in imgs], return_tensors="pt")
    tok = AutoTokenizer.from_pretrained(path)
    pad = "max_length" if kind == "siglip" else True
    enc = tok(texts, padding=pad, max_length=16, truncation=True, return_tensors="pt")
    targs = {"input_ids": enc["input_ids"]}
    if kind == "clip":
        targs["attention_mask"] = enc["attention_mask"]
    with torch.no_grad():
        ref_i = model.get_image_features(pixel_values=pix["pixel_values"]).pooler_output
        ref_t = model.get_text_features(**targs).pooler_output
    ref_i = torch.nn.functional.normalize(ref_i, dim=-1)
    ref_t = torch.nn.functional.normalize(ref_t, dim=-1)
    assert torch.allclose(iv, ref_i, atol=1e-5) and torch.allclose(tv, ref_t, atol=1e-5)
    assert not torch.allclose(iv[0], iv[1])  # different images, different vectors


def test_clip_embedder_errors_name_the_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load embedder model"):
        EMBEDDERS.create("clip", model_id=str(tmp_path / "missing"))
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    ).save_pretrained(tmp_path / "bert")
    with pytest.raises(ModelError, match="'bert' model"):
        EMBEDDERS.create("clip", model_id=str(tmp_path / "bert"))
