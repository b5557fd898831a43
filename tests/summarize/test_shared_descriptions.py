"""One description of a clip, not two: ``index --captions`` reads the chunk descriptions
``summarize`` cached (same video, span, model and options) and ``summarize`` reads the captions an
index made; a counting model proves that nothing is generated twice, the index holds the same
words, and a clip with another span is described anew."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from videopipe.retrieval.captions import LLMCaptioner
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.store import IndexStore
from videopipe.summarize.job import summarize
from videopipe.testing.embedders import HashTextEmbedder
from videopipe.testing.fake_model import FakeVideoLLM
from videopipe.testing.subtitled import make_tiny_video, write_srt


class Counting(FakeVideoLLM):
    """Says which frame times and lines it was given; counts its generations."""

    def __init__(self) -> None:
        super().__init__(token_px=16)
        self.generations = 0

    def generate(self, tokens, question: str, *, max_new_tokens: int = 128, **_: object) -> str:  # noqa: ANN001
        self.generations += 1
        t = tokens.time_s
        said = ",".join(re.findall(r"cue (\d+)", question))
        return f"frames {float(t.min()):.2f}-{float(t.max()):.2f} lines {said}"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shared")
    v = make_tiny_video(root / "talk.mp4", duration_s=30, color="gray", fps="4")
    write_srt(root / "talk.srt", [(k * 3.0, k * 3.0 + 2.0, f"cue {k}") for k in range(10)])
    return v


def _index(video: Path, root: Path, captioner: LLMCaptioner, overlap_s: float = 0.0) -> list[str]:
    options = IndexOptions(
        embedder=HashTextEmbedder(), text="subtitles", window_s=10.0, overlap_s=overlap_s, captioner=captioner
    )
    report = index_paths([video], root / "idx", options)
    assert report.embedded == 1 and not report.failed
    snap = IndexStore(root / "idx").open_snapshot()
    return list(snap.texts)


def test_index_captions_reuse_the_summary_chunks(video: Path, tmp_path: Path) -> None:
    model = Counting()
    s = summarize(video, model=model, text="subtitles", chunk_s=10.0, align="none", cache_dir=tmp_path)
    assert [(c.start_s, c.end_s) for c in s.chunks] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]
    assert model.generations == 3 + 1 and s.cached == 0  # three chunks and the summary
    cap = LLMCaptioner(model, cache_dir=tmp_path)
    texts = _index(video, tmp_path, cap)
    assert model.generations == 4 and (cap.made, cap.reused) == (0, 3)  # no new generation
    for c, text in zip(s.chunks, texts, strict=True):
        assert text.endswith(c.text) and "lines" in c.text  # the clip's lines, then the same description
    # a clip with another span is not the same description: it is made anew
    other = LLMCaptioner(model, cache_dir=tmp_path)
    _index(video, tmp_path / "overlap", other, overlap_s=5.0)
    spans = [(0, 10), (5, 15), (10, 20), (15, 25), (20, 30)]
    assert (other.made, other.reused) == (2, 3) and model.generations == 4 + 2 == 4 + len(spans) - 3


def test_summarize_reuses_the_index_captions(video: Path, tmp_path: Path) -> None:
    model = Counting()
    cap = LLMCaptioner(model, cache_dir=tmp_path)
    texts = _index(video, tmp_path, cap)
    assert (cap.made, cap.reused) == (3, 0) and model.generations == 3
    s = summarize(video, model=model, text="subtitles", chunk_s=10.0, align="none", cache_dir=tmp_path)
    assert s.cached == 3 and model.generations == 3 + 1  # only the summary was generated
    assert [t.split("cue 9 ")[-1] for t in texts][-1] == s.chunks[-1].text
    # other options (fewer frames) are another description
    other = LLMCaptioner(model, frames_per_clip=2, cache_dir=tmp_path)
    _index(video, tmp_path / "two", other)
    assert (other.made, other.reused) == (3, 0)


def test_summarize_then_index_captions_through_the_executable(videopipe, video: Path, tmp_path: Path) -> None:
    from tests.cli.conftest import cli_env

    env = cli_env(VIDEOPIPE_CACHE=str(tmp_path / "cache"))
    r = videopipe(
        "summarize", str(video), "--model", "fake", "--align", "none", "--chunk-s", "10", "--text",
        "subtitles", "--json", "-q", env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    chunks = json.loads(r.stdout)["chunks"]
    store = tmp_path / "cache" / "descriptions"
    written = {p: p.stat().st_mtime_ns for p in store.rglob("*.json")}
    assert len(written) == 3
    r = videopipe(
        "index", str(video), "--index", str(tmp_path / "idx"), "--text", "subtitles", "--window-s", "10",
        "--overlap-s", "0", "--embedder", "videopipe.testing.embedders:HashTextEmbedder", "--captions", "fake", "--json", "-q", env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.json")} == written  # nothing described again
    snap = IndexStore(tmp_path / "idx").open_snapshot()
    assert len(snap.texts) == 3
    assert all(t.endswith(c["text"]) for t, c in zip(snap.texts, chunks, strict=True))
