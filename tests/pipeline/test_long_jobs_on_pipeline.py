"""Pipeline.chapters / locate / summarize (videopipe.pipeline_jobs) hand the job the pipeline's
own timed text, and summarize its model and cache folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
from videopipe.testing.fake_model import FakeVideoLLM


def test_the_jobs_get_the_pipeline_s_text_model_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import videopipe.chapters.job as chapters_job
    import videopipe.locate.job as locate_job
    import videopipe.summarize.job as summarize_job

    video = tmp_path / "talk.mp4"
    video.write_bytes(b"not read: the jobs are replaced")
    model = FakeVideoLLM()
    cfg = PipelineConfig(text="none", cache_dir=str(tmp_path / "cache"))
    pipe = Pipeline(model, config=cfg)
    calls: dict[str, tuple[Any, ...]] = {}

    def fake(name: str) -> Any:
        def job(*args: Any, **kwargs: Any) -> str:
            calls[name] = (args, kwargs)
            return name

        return job

    monkeypatch.setattr(chapters_job, "find_chapters", fake("chapters"))
    monkeypatch.setattr(locate_job, "locate", fake("locate"))
    monkeypatch.setattr(summarize_job, "summarize", fake("summarize"))

    assert pipe.chapters(video, min_len_s=10.0) == "chapters"
    assert calls["chapters"] == ((video,), {"timeline": None, "min_len_s": 10.0})
    assert pipe.locate(video, "the chart") == "locate"
    assert calls["locate"] == ((video, "the chart"), {"timeline": None})
    assert pipe.summarize(video, chunk_s=20.0) == "summarize"
    args, kwargs = calls["summarize"]
    assert args == (video,) and kwargs["model"] is model and kwargs["timeline"] is None
    assert kwargs["cache_dir"] == cfg.resolved_cache_dir() and kwargs["chunk_s"] == 20.0
