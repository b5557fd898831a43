"""Visual clip embeddings: image-text embedders embed frames spread over each clip and average
them. ``color`` (deterministic) finds a flat-colour needle scene; ``clip`` (a tiny random
CLIP saved to disk) is recreated from the index's recorded options for queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from videopipe.decode import open_video
from videopipe.registry import EMBEDDERS
from videopipe.retrieval.encode import clip_frame_times
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.search import Retriever, retrieve_clips
from videopipe.retrieval.store import IndexStore
from videopipe.testing.videos import make_video, scenes_video

FPS = 25.0


@pytest.fixture(scope="module")
def needle_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s video: four 2 s scenes, the third a flat red needle (4.0-6.0 s)."""
    src = make_video(scenes_video((50, 50, 50, 50), seed=3, needle=(2, "red"), fps=FPS))
    d = tmp_path_factory.mktemp("needle")
    (d / "needle.mp4").symlink_to(src)
    return d


def _mean_frame_embedding(video: Path, start_s: float, end_s: float, emb, fpc: int) -> np.ndarray:
    from videopipe.retrieval.segment import Span

    with open_video(video) as r:
        frames = r.frames_at_times(clip_frame_times(Span(start_s, end_s), fpc), size=224)
    v = emb.embed_images(frames.data).float().numpy().mean(0)
    return v / np.linalg.norm(v)


def test_color_embedder_finds_the_needle_clip(needle_folder: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    report = index_paths(
        [needle_folder], idx, IndexOptions(embedder="color", window_s=2, overlap_s=0, frames_per_clip=3)
    )
    assert report.embedded == 1 and report.total_clips == 4  # image embedders: every clip gets a vector
    hits = Retriever(idx).search("when is the screen red?", 2)
    assert (hits[0].start_s, hits[0].end_s) == (4.0, 6.0)
    assert hits[0].score > hits[1].score + 0.5
    snap = IndexStore(idx).open_snapshot()
    emb = EMBEDDERS.create("color")
    for r in range(len(snap)):
        want = _mean_frame_embedding(needle_folder / "needle.mp4", snap.starts_s[r], snap.ends_s[r], emb, 3)
        assert np.allclose(snap.vectors[r], want, atol=1e-5)
    # the same answer without an index
    spans = retrieve_clips(
        needle_folder / "needle.mp4", "red screen", k=1, embedder="color", window_s=2, overlap_s=0
    )
    assert (spans[0].start_s, spans[0].end_s) == (4.0, 6.0)


def test_clip_embedder_index_records_its_model(needle_folder: Path, tmp_path: Path) -> None:
    from tests.embedders.test_embedders import _save_tiny

    model = _save_tiny("clip", tmp_path / "tiny-clip")
    idx = tmp_path / "idx"
    emb = EMBEDDERS.create("clip", model_id=str(model), device="cpu")
    index_paths([needle_folder], idx, IndexOptions(embedder=emb, window_s=4, overlap_s=0, frames_per_clip=2))
    cfg = IndexStore(idx).config()
    assert cfg.embedder == "clip" and cfg.embedder_options == {"model_id": str(model)}
    retriever = Retriever(idx)  # recreates the tiny CLIP from the recorded options
    assert retriever.embedder.space == emb.space and retriever.embedder is not emb
    snap = retriever.snapshot
    want = _mean_frame_embedding(needle_folder / "needle.mp4", snap.starts_s[0], snap.ends_s[0], emb, 2)
    assert np.allclose(snap.vectors[0], want, atol=1e-5)
    hits = retriever.search("when is the screen red ?", 2)
    q = torch.nn.functional.normalize(emb.embed_texts(["when is the screen red ?"]), dim=-1).numpy()[0]
    assert hits[0].score == pytest.approx(float(np.max(snap.vectors @ q)), abs=1e-5)


def test_vision_tower_embedder_searches_by_image(
    needle_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from PIL import Image

    from videopipe.cli.app import main
    from videopipe.errors import ConfigError
    from videopipe.testing.tiny_models import build_tiny_model

    model = build_tiny_model("smolvlm", tmp_path / "tiny-smolvlm")
    idx = tmp_path / "idx"
    emb = EMBEDDERS.create("vision", model_id=str(model), device="cpu")
    index_paths([needle_folder], idx, IndexOptions(embedder=emb, window_s=2, overlap_s=0, frames_per_clip=2))
    assert IndexStore(idx).config().space == f"vision/smolvlm:{model}"
    # query: a frame from inside the red needle scene (4.0-6.0 s), as an image file
    with open_video(needle_folder / "needle.mp4") as r:
        frame = r.frames_at_times([5.1]).data[0].numpy()
    Image.fromarray(frame).save(tmp_path / "query.png")
    hits = Retriever(idx, embedder=emb).search_image(tmp_path / "query.png", 4)
    assert (hits[0].start_s, hits[0].end_s) == (4.0, 6.0) and len(hits) == 4
    with pytest.raises(ConfigError, match="no text space"):
        Retriever(idx, embedder=emb).search("red", 1)
    # the CLI recreates the tiny model from the index's recorded model_id
    code = main(["search", "--image", str(tmp_path / "query.png"), "--index", str(idx), "-k", "1", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and '"start_s": 4.0' in out


def test_scene_segmentation_follows_the_cuts(tmp_path: Path) -> None:
    from videopipe.retrieval.segment import SceneWindows

    src = make_video(scenes_video((50, 75, 50, 100), seed=5, needle=(2, "blue"), fps=FPS))
    spans = SceneWindows(max_window_s=60, min_scene_s=1).segment(src)
    assert [s.start_s for s in spans] == pytest.approx([0.0, 2.0, 5.0, 7.0], abs=1.01 / FPS)
    assert spans[-1].end_s == pytest.approx(11.0, abs=1.01 / FPS)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "scenes.mp4").symlink_to(src)
    report = index_paths(
        [tmp_path / "v"], tmp_path / "idx", IndexOptions(embedder="color", segmentation="scenes")
    )
    assert (
        report.total_clips == 4 and IndexStore(tmp_path / "idx").config().segmentation == "scenes:max60:min2"
    )
    hit = Retriever(tmp_path / "idx").search("a blue screen", 1)[0]
    assert (hit.start_s, hit.end_s) == pytest.approx((5.0, 7.0), abs=1.01 / FPS)
