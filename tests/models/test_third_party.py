"""A third-party video LLM written only against ``videopipe.models.contract`` (and the data
types), registered in ``MODELS`` and run through ``Pipeline.ask`` end to end.

The model is none of the four families: every 16 px patch of a frame is mean-pooled and sent
through a fixed random linear projection into a tiny random Llama's embedding space. Its
``generate`` rebuilds the uncompressed prompt (question, then one slot per visual token) from
the tokens' ``EncodedLayout`` alone and gives every kept token its original position, as the
built-in adapters do; it records what it saw so the test can check the layout was used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import torch

from videopipe.config import PipelineConfig
from videopipe.models.contract import ClipLayout, EncodedLayout, ModelFacts, VideoLLM
from videopipe.pipeline import Pipeline
from videopipe.registry import MODELS
from videopipe.types import Frames, VisualTokens

PATCH_PX = 16
HIDDEN = 32
VOCAB = 64


class PooledPatchLLM(VideoLLM):
    """Mean-pooled patches -> random linear projection -> a tiny random Llama."""

    family = "pooled_patch"
    model_types: ClassVar[tuple[str, ...]] = ()  # loads no transformers checkpoint
    token_px = PATCH_PX
    min_frames = 1

    def __init__(
        self,
        model_id: str | None = None,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        frames_per_batch: int = 32,
    ) -> None:
        from transformers import LlamaConfig, LlamaForCausalLM

        self.model_id = model_id or "third-party/pooled-patch-tiny"
        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=HIDDEN,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            attn_implementation="eager",
        )
        self.lm = LlamaForCausalLM(cfg).eval()
        self.projection = torch.randn(3, HIDDEN, generator=torch.Generator().manual_seed(1))
        self.seen: list[dict[str, Any]] = []

    @classmethod
    def read_facts(cls, model_id: str | None = None) -> ModelFacts:
        return ModelFacts(
            model_id=model_id or "third-party/pooled-patch-tiny",
            token_px=PATCH_PX,
            min_frames=1,
            mixed_resolution=cls.mixed_resolution,
        )

    def encode(self, frames: Frames) -> VisualTokens:
        p = PATCH_PX
        x = frames.data.to(torch.float32) / 255.0
        t, h, w, _ = x.shape
        gh, gw = h // p, w // p
        pooled = x[:, : gh * p, : gw * p].reshape(t, gh, p, gw, p, 3).mean(dim=(2, 4))  # [T, gh, gw, 3]
        layout = EncodedLayout(
            family=self.family,
            model_id=self.model_id,
            unit_frame_idx=frames.indices.tolist(),
            unit_time_s=frames.pts_s.tolist(),
            unit_grid_hw=[(gh, gw)] * t,
            frame_idx=frames.indices.tolist(),
            frame_time_s=frames.pts_s.tolist(),
            clips=[ClipLayout(frame_size_px=(h, w), num_tokens=t * gh * gw)],
        )
        return VisualTokens.from_grid(pooled @ self.projection, frames.indices, frames.pts_s, layout=layout)

    def _slots(self, tokens: VisualTokens, layout: EncodedLayout) -> torch.Tensor:
        unit = {f: i for i, f in enumerate(layout.unit_frame_idx)}
        sizes = [h * w for h, w in layout.unit_grid_hw]
        offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        return torch.tensor(
            [
                offsets[unit[int(f)]] + int(r) * layout.unit_grid_hw[unit[int(f)]][1] + int(c)
                for f, r, c in zip(tokens.frame_idx, tokens.row, tokens.col)
            ]
        )

    def generate(self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128) -> str:
        layout = tokens.layout
        assert layout is not None and layout.family == self.family
        q = torch.tensor([ord(ch) % VOCAB for ch in question])
        slots = self._slots(tokens, layout)
        order = torch.argsort(slots)
        visual_pos = len(q) + slots[order]  # the place each kept token had in the full prompt
        embed = self.lm.get_input_embeddings()
        with torch.inference_mode():
            embeds = torch.cat([embed(q), tokens.features[order].to(torch.float32)])
            positions = torch.cat([torch.arange(len(q)), visual_pos])
            nxt = len(q) + layout.num_tokens  # text after the video keeps its uncompressed position
            out: list[int] = []
            for _ in range(min(max_new_tokens, 4)):
                logits = self.lm(inputs_embeds=embeds[None], position_ids=positions[None]).logits[0, -1]
                tok = int(torch.argmax(logits))
                out.append(tok)
                embeds = torch.cat([embeds, embed(torch.tensor([tok]))])
                positions = torch.cat([positions, torch.tensor([nxt])])
                nxt += 1
        self.seen.append({"tokens": tokens, "layout": layout, "visual_positions": visual_pos})
        return "".join(chr(ord("a") + i % 26) for i in out)


@pytest.fixture()
def registered() -> Iterator[str]:
    MODELS.register("pooled_patch", PooledPatchLLM, summary="third-party test model")
    try:
        yield "pooled_patch"
    finally:
        MODELS.unregister("pooled_patch")


@pytest.fixture(scope="module")
def video() -> str:
    from videopipe.testing.videos import make_video, scenes_video

    return str(make_video(scenes_video((20, 20, 20), needle=(1, "green"), width=64, height=64, seed=3)))


def _cfg(tmp_path: Any, name: str, **kw: Any) -> PipelineConfig:
    return PipelineConfig(
        model=name,
        sampler="uniform",
        compressor="pool",
        num_frames=6,
        size_px=64,
        max_visual_tokens=40,
        cache_dir=str(tmp_path),
        **kw,
    )


def test_a_third_party_model_answers_through_the_pipeline(registered: str, video: str, tmp_path: Any) -> None:
    pipe = Pipeline(config=_cfg(tmp_path, registered, cache_tokens=False))
    model = pipe.model
    assert isinstance(model, PooledPatchLLM) and pipe.facts == model.facts()
    prepared = pipe.prepare(video)
    layout = prepared.tokens.layout
    assert layout is not None and layout.num_tokens == len(prepared.tokens) == 6 * 4 * 4
    question = "What colour is the screen?"
    ans = pipe.answer(prepared, question)

    # the answer is the model's own, for the compressed tokens it was given
    seen = model.seen[-1]
    assert len(ans.text) == 4 and ans.text == model.generate(seen["tokens"], question)
    # the compressor carried the encode output's layout through, and generate placed the kept
    # tokens by it: distinct slots of the uncompressed prompt, with gaps where tokens went
    assert seen["layout"] is layout
    pos = seen["visual_positions"]
    n_q = len(question)
    assert len(pos) == ans.stats.tokens_after and bool((pos[1:] > pos[:-1]).all())
    assert int(pos.min()) >= n_q and int(pos.max()) < n_q + layout.num_tokens
    assert ans.stats.tokens_after < layout.num_tokens
    # evidence and stats have the usual shape
    st = ans.stats
    assert st.frames_selected == 6 and st.tokens_before == 96 and st.tokens_after <= 40
    assert {"decode", "sample", "encode", "compress", "generate"} <= set(st.seconds)
    assert ans.evidence and all(0 <= h.start_s <= h.end_s <= 2.4 for h in ans.evidence)
    scores = [h.score for h in ans.evidence]
    assert scores == sorted(scores, reverse=True)


def test_a_third_party_model_decodes_without_loading_and_caches_its_layout(
    registered: str, video: str, tmp_path: Any
) -> None:
    cfg = _cfg(tmp_path, registered)
    cpu = Pipeline(config=cfg, load_model=False)  # facts from read_facts: no model built
    assert not cpu.model_loaded and cpu.facts == PooledPatchLLM().facts()
    first = cpu.prepare_from(cpu.select_and_decode(video))
    again = Pipeline(config=cfg).prepare(video)  # from the token cache
    assert again.cached and not first.cached
    assert again.tokens.layout == first.tokens.layout
    assert Pipeline(config=cfg).ask(video, "Is it green?").stats.cached


def test_an_object_that_is_not_a_video_llm_is_refused(tmp_path: Any) -> None:
    from videopipe.errors import ConfigError

    class OnlyGenerate:
        def generate(self, tokens: Any, question: str, **kw: Any) -> str:
            return ""

    with pytest.raises(ConfigError, match="not a videopipe VideoLLM"):
        Pipeline(OnlyGenerate(), config=PipelineConfig(cache_dir=str(tmp_path)))  # type: ignore[arg-type]
