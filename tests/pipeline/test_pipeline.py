"""Pipeline wiring with the scripted colour model (real decode, real compressors)."""

from __future__ import annotations

import pytest

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, InputError
from videopipe.pipeline import Pipeline
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.videos import make_video, scenes_video
from videopipe.types import Budget, Clip, Selection


class EveryNth:
    """A minimal sampler: every n-th frame, one clip per frame."""

    name = "every_nth"
    uses_query = False

    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __call__(self, video, budget, *, query=None, embedder=None) -> Selection:
        pts = video.pts_s
        idx = list(range(0, len(pts), self.n))[: budget.num_frames]
        return Selection(
            tuple(
                Clip(start_s=float(pts[i]), end_s=float(pts[i]), indices=(i,), times_s=(float(pts[i]),))
                for i in idx
            ),
            sampler=self.name,
        )


@pytest.fixture(scope="module")
def needle_video():
    # 4 scenes x 40 frames at 25 fps; scene 2 (frames 80..119, 3.2..4.8 s) is a flat red needle
    spec = scenes_video((40, 40, 40, 40), needle=(2, "red"), width=112, height=112)
    return make_video(spec), spec


def test_ask_finds_the_needle_and_reports_stats(needle_video, tmp_path) -> None:
    path, spec = needle_video
    model = FakeVideoLLM()
    cfg = PipelineConfig(cache_dir=str(tmp_path), num_frames=16, size_px=112)
    pipe = Pipeline(model, sampler=EveryNth(10), compressor="none", config=cfg)
    ans = pipe.ask(path, "When does the screen turn red?")
    assert ans.text == "The screen is red."
    st = ans.stats
    assert st.frames_selected == 16 and st.tokens_before == 16 * 16 == st.tokens_after
    assert st.frames_decoded >= 16 and st.peak_memory_mb > 0
    assert {"decode", "sample", "encode", "compress", "generate"} <= set(st.seconds)
    duration = spec.num_frames / spec.fps
    assert all(0 <= h.start_s <= h.end_s <= duration for h in ans.evidence)
    assert len(ans.evidence) == 16
    # most relevant first: the red needle frames (3.2..4.8 s) rank above every other frame
    assert all(3.2 <= h.start_s < 4.8 for h in ans.evidence[:4])
    assert ans.evidence[0].score > ans.evidence[4].score


def test_compressor_budget_and_evidence_order(needle_video, tmp_path) -> None:
    path, _ = needle_video
    cfg = PipelineConfig(cache_dir=str(tmp_path), num_frames=16, size_px=112, max_visual_tokens=40)
    pipe = Pipeline(FakeVideoLLM(), sampler=EveryNth(10), compressor="temporal_merge", config=cfg)
    ans = pipe.ask(path, "What colour is the screen?")
    assert ans.stats.tokens_before == 256 and ans.stats.tokens_after <= 40
    assert pipe.model.last_prompt_tokens == ans.stats.tokens_after
    assert ans.text == "The screen is red."  # the needle survives compression
    scores = [h.score for h in ans.evidence]
    assert scores == sorted(scores, reverse=True)


def test_token_cache_skips_decode_and_encode(needle_video, tmp_path) -> None:
    path, _ = needle_video
    model = FakeVideoLLM()
    cfg = PipelineConfig(cache_dir=str(tmp_path), num_frames=8, size_px=112)
    pipe = Pipeline(model, sampler=EveryNth(20), compressor="none", config=cfg)
    a1 = pipe.ask(path, "What colour is the screen?")
    a2 = pipe.ask(path, "Is there a needle?")
    assert model.calls["encode"] == 1 and model.calls["generate"] == 2
    assert not a1.stats.cached and a2.stats.cached and a2.stats.frames_decoded == 0
    assert a2.stats.tokens_before == a1.stats.tokens_before
    # a different budget is a different cache entry
    pipe2 = Pipeline(model, sampler=EveryNth(20), compressor="none", config=cfg.with_overrides(num_frames=4))
    pipe2.ask(path, "again?")
    assert model.calls["encode"] == 2


def test_bad_questions_and_options(needle_video, tmp_path) -> None:
    path, _ = needle_video
    pipe = Pipeline(
        FakeVideoLLM(), sampler=EveryNth(), compressor="none", config=PipelineConfig(cache_tokens=False)
    )
    with pytest.raises(InputError, match="empty question"):
        pipe.ask(path, "   ")
    with pytest.raises(ConfigError, match="valid"):
        Pipeline(FakeVideoLLM(), sampler=EveryNth(), compressor="nope")


def test_budget_defaults_follow_the_model() -> None:
    pipe = Pipeline(
        FakeVideoLLM(token_px=14, min_frames=2), sampler=EveryNth(), config=PipelineConfig(num_frames=6)
    )
    assert pipe.budget == Budget(num_frames=6, size_px=448, token_px=14, min_frames=2)


def test_retrieve_restricts_sampling_to_the_top_clip(tmp_path) -> None:
    # 60 s at 4 fps; the red needle is at 40..44 s; the colour embedder retrieves its clip
    spec = scenes_video((80, 80, 16, 64), needle=(2, "red"), width=64, height=48, fps=4.0)
    path = make_video(spec)
    cfg = PipelineConfig(
        cache_dir=str(tmp_path),
        num_frames=8,
        size_px=56,
        retrieve=1,
        embedder="color",
        compressor="none",
        max_visual_tokens=None,
    )
    pipe = Pipeline(FakeVideoLLM(), sampler="uniform", config=cfg)
    ans = pipe.ask(path, "When is the screen red?")
    assert ans.text == "The screen is red."
    assert "retrieve" in ans.stats.seconds
    # every frame the model saw lies in the retrieved 20 s window (+5 s context) around the needle
    times = [h.start_s for h in ans.evidence]
    assert len(times) == 8 and min(times) >= 40 - 20 - 5 and max(times) <= 44 + 20 + 5
    assert max(times) - min(times) < 31
    # without retrieval the same budget spreads over the whole minute
    whole_cfg = cfg.with_overrides(num_frames=8)
    whole = Pipeline(
        FakeVideoLLM(), sampler="uniform", config=PipelineConfig(**{**whole_cfg.to_dict(), "retrieve": None})
    )
    spread = [h.start_s for h in whole.ask(path, "When is the screen red?").evidence]
    assert max(spread) - min(spread) > 45


def test_samplers_declare_whether_they_use_the_question():
    from videopipe.registry import SAMPLERS

    assert {n for n in SAMPLERS.names() if SAMPLERS.get(n).uses_query} == {"keyclip", "query"}


def test_a_custom_sampler_without_the_protocol_is_refused_by_name():
    class NoFlag:
        name = "no_flag"

        def __call__(self, video, budget, *, query=None, embedder=None):
            raise AssertionError("never called")

    with pytest.raises(ConfigError, match="has no uses_query"):
        Pipeline(FakeVideoLLM(), sampler=NoFlag(), compressor="none")


def test_a_custom_compressor_without_a_name_is_refused():
    with pytest.raises(ConfigError, match="Compressor"):
        Pipeline(FakeVideoLLM(), sampler=EveryNth(), compressor=lambda tokens, budget, **kw: tokens)
