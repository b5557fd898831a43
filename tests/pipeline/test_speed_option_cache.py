"""The token cache keys on the speed options that change the tokens (``quantize``,
``vision_merge``): tokens of an int8 or ToMe run are never served to a plain run, nor the
other way round, and plain runs keep their keys."""

from __future__ import annotations

from videopipe.cache import TokenCache
from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.videos import make_video, scenes_video
from videopipe.types import Budget


def test_key_includes_the_speed_options_only_when_set(tmp_path) -> None:
    video = make_video(scenes_video((10,), width=64, height=64))
    cache, budget = TokenCache(tmp_path), Budget(num_frames=4)
    plain = cache.key(video, sampler="uniform", budget=budget, model="m")
    keys = {
        plain,
        cache.key(video, sampler="uniform", budget=budget, model="m", quantize="int8"),
        cache.key(video, sampler="uniform", budget=budget, model="m", vision_merge=4),
        cache.key(video, sampler="uniform", budget=budget, model="m", vision_merge=8),
        cache.key(video, sampler="uniform", budget=budget, model="m", quantize="int8", vision_merge=4),
    }
    assert len(keys) == 5
    assert (
        cache.key(video, sampler="uniform", budget=budget, model="m", quantize="none", vision_merge=0)
        == plain
    )


def test_pipeline_never_serves_tokens_across_speed_options(tmp_path) -> None:
    video = make_video(scenes_video((20, 20), width=112, height=112))
    model = FakeVideoLLM()
    base = PipelineConfig(cache_dir=str(tmp_path), num_frames=4, size_px=112, text="none")

    def ask(**options: object) -> bool:
        return (
            Pipeline(model, compressor="none", config=base.with_overrides(**options))
            .ask(video, "What colour?")
            .stats.cached
        )

    assert not ask()  # plain: encoded and stored
    assert not ask(quantize="int8")  # int8: not the plain entry
    assert not ask(vision_merge=4)  # ToMe: not the plain one, nor the int8 one
    assert not ask(quantize="int8", vision_merge=4)
    assert ask() and ask(quantize="int8") and ask(vision_merge=4)  # each finds its own
    assert model.calls["encode"] == 4
