"""The production runner adapter over a Pipeline-like object (prepare once, answer many)."""

from __future__ import annotations

from videopipe.batch.jobs import PipelineRunner
from videopipe.types import Answer


class FakePipeline:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def prepare(self, video: str) -> dict:
        self.calls.append(("prepare", video))
        return {"video": video}

    def answer(self, prepared: dict, question: str) -> Answer:
        self.calls.append(("answer", question))
        return Answer(text=f"{prepared['video']}:{question}")

    def ask(self, video: str, question: str) -> Answer:
        self.calls.append(("ask", question))
        return Answer(text=f"{video}:{question}")


def test_prepares_each_video_once_for_all_its_questions() -> None:
    pipe = FakePipeline()
    run = PipelineRunner(pipe, reuse_prepared=True)
    texts = [run(v, q).text for v, q in [("a", "q1"), ("a", "q2"), ("b", "q1"), ("a", "q3")]]
    assert texts == ["a:q1", "a:q2", "b:q1", "a:q3"]
    assert [c for c in pipe.calls if c[0] == "prepare"] == [
        ("prepare", "a"),
        ("prepare", "b"),
        ("prepare", "a"),
    ]


def test_query_dependent_pipelines_ask_every_question() -> None:
    pipe = FakePipeline()
    run = PipelineRunner(pipe, reuse_prepared=False)
    run("a", "q1"), run("a", "q2")
    assert pipe.calls == [("ask", "q1"), ("ask", "q2")]


def test_prepared_values_from_a_prepare_stage_go_straight_to_answer() -> None:
    pipe = FakePipeline()
    assert PipelineRunner(pipe, reuse_prepared=True)({"video": "a"}, "q").text == "a:q"
    assert pipe.calls == [("answer", "q")]


def test_pipeline_spec_stages_follow_the_config() -> None:
    """`JobSpec.for_pipeline`: the CPU stage is the prepare stage unless the selection depends on
    the question (then it is trivial and the runner asks per question)."""
    from videopipe.batch.jobs import JobSpec
    from videopipe.config import PipelineConfig

    spec = JobSpec.for_pipeline(PipelineConfig(model="fake", num_frames=8))
    assert "videopipe.pipeline" in spec.preload
    assert spec.prepare_factory == "videopipe.batch.jobs:pipeline_preparer"
    assert spec.prepare_kwargs == spec.kwargs and spec.kwargs["config"]["num_frames"] == 8
    runner = spec.build_runner()
    assert runner.reuse_prepared and runner.pipeline.config == PipelineConfig(model="fake", num_frames=8)
    for cfg in (
        PipelineConfig(model="fake", retrieve=3, index_dir="x"),
        PipelineConfig(model="fake", sampler="query"),
        {"model": "fake", "sampler": "keyclip"},
    ):
        spec = JobSpec.for_pipeline(cfg)
        assert spec.prepare_factory is None, cfg
        if not isinstance(cfg, PipelineConfig) or cfg.index_dir is None:  # "x" holds no index to open
            assert spec.build_runner().reuse_prepared is False


def test_pipeline_preparer_decodes_on_the_cpu_without_the_model() -> None:
    import pytest

    from videopipe.batch.jobs import pipeline_preparer
    from videopipe.config import PipelineConfig
    from videopipe.errors import ConfigError

    prepare = pipeline_preparer(config=PipelineConfig(model="fake").to_dict())
    assert prepare.__self__.decode_device == "cpu" and not prepare.__self__.model_loaded
    with pytest.raises(ConfigError, match="per question"):
        pipeline_preparer(config=PipelineConfig(model="fake", sampler="query").to_dict())
