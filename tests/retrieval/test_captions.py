"""``index --captions MODEL``: each clip described by the video LLM, indexed with its text.

Wiring only (no captioning weights exist offline): a tiny random Qwen2.5-VL through the
production loader gives the same captions as its own encode + generate on the same frames, and
the ``fake`` model makes searchable captions through the installed CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from videopipe.decode import open_video
from videopipe.errors import ConfigError
from videopipe.models import load_model
from videopipe.retrieval.captions import LLMCaptioner
from videopipe.retrieval.encode import clip_frame_times
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.segment import Span
from videopipe.retrieval.store import IndexStore
from videopipe.summarize.describe import DESCRIBE_PROMPT, frame_size
from videopipe.testing.embedders import HashTextEmbedder
from videopipe.testing.subtitled import make_tiny_video
from videopipe.testing.tiny_models import build_tiny_model

EXE = shutil.which("videopipe") or str(Path(sys.executable).with_name("videopipe"))


def test_llm_captions_equal_the_models_own_answer_on_the_clip_frames(tmp_path: Path) -> None:
    ckpt = build_tiny_model("qwen2_5_vl", tmp_path / "tiny")
    video = make_tiny_video(tmp_path / "v.mp4", duration_s=8, color="red", fps="4")
    cap = LLMCaptioner(str(ckpt), frames_per_clip=2, size_px=56, max_new_tokens=6, cache=False)
    spans = [Span(0.0, 4.0), Span(4.0, 8.0)]
    got = cap(video, spans)
    model = load_model(str(ckpt))
    with open_video(video) as r:
        want = []
        for s in spans:
            frames = r.frames_at_times(clip_frame_times(s, 2), size=frame_size(r, 56, model.token_px))
            text = model.generate(model.encode(frames), DESCRIBE_PROMPT, max_new_tokens=6)
            want.append(" ".join(text.split()))
    assert list(got) == want and len(got) == 2
    assert cap.name == f"llm:{ckpt}:f2:s56:t6"


def test_captions_join_the_clip_texts_and_name_the_index(tmp_path: Path) -> None:
    video = make_tiny_video(tmp_path / "red.mp4", duration_s=30, color="red")
    cap = LLMCaptioner("fake", cache_dir=tmp_path / "cache")
    report = index_paths(
        [video], tmp_path / "idx", IndexOptions(embedder=HashTextEmbedder(), text="none", captioner=cap)
    )
    assert report.embedded == 1 and report.total_clips >= 2  # no speech, no subtitles: captions only
    snap = IndexStore(tmp_path / "idx").open_snapshot()
    # the fake model's answer about a flat picture (it sees no coloured needle)
    assert set(snap.texts) == {"I see no needle."} and set(snap.sources) == {"caption"}
    assert IndexStore(tmp_path / "idx").config().captioner == cap.name


def test_bad_caption_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="frames_per_clip"):
        LLMCaptioner("fake", frames_per_clip=0)


def test_index_captions_through_the_executable(tmp_path: Path) -> None:
    video = make_tiny_video(tmp_path / "blue.mp4", duration_s=30, color="blue")
    env = {**os.environ, "VIDEOPIPE_CACHE": str(tmp_path / "cache")}
    idx = tmp_path / "idx"
    r = subprocess.run(
        [EXE, "index", str(video), "--index", str(idx), "--text", "none", "--captions", "fake", "--json", "-q"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_clips"] >= 2
    r = subprocess.run(
        [EXE, "search", "a needle that is not there", "--index", str(idx), "-k", "1", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    hit = json.loads(r.stdout)["hits"][0]
    assert hit["source"] == "caption" and hit["text"] == "I see no needle."
    r = subprocess.run(
        [EXE, "index", str(video), "--index", str(idx), "--captions", " "],
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.returncode == 2 and "--captions needs a model" in r.stderr
