"""space_aware (greedy maximum coverage, pluggable cells), query allocation, keyclip anchors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.samplers.conftest import calm_frames
from tests.samplers.fakes import FakeReader
from videopipe.errors import ConfigError
from videopipe.samplers.space_aware import PatchCodeCells, SpaceAwareSampler, greedy_cover
from videopipe.types import Budget


def _revisit_video() -> tuple[FakeReader, list[str]]:
    fr = calm_frames(n_scenes=3, length=100, h=96, w=160)
    a, b, c = fr[:100], fr[100:200], fr[200:]
    video = np.concatenate([a, b, a[::-1], c])  # place A is seen again at 20-30 s
    return FakeReader(video, fps=10, gop=10), ["A", "B", "A", "C"]


def test_space_aware_covers_each_place_once_and_stops() -> None:
    r, places = _revisit_video()
    sel = SpaceAwareSampler()(r, Budget(num_frames=20, size_px=56))
    seen = [places[i // 100] for i in sel.indices]
    assert sorted(seen) == ["A", "B", "C"]  # the revisit of A adds no new space
    assert sel.meta["stopped"] == "no gain"
    assert sel.meta["cells_covered"] >= 0.95 * sel.meta["cells_total"]  # the rest: noise cells
    assert sel.meta["gains"] == sorted(sel.meta["gains"], reverse=True)
    # with a budget of 2 it keeps the two places that cover most
    two = SpaceAwareSampler()(r, Budget(num_frames=2, size_px=56))
    assert len(two.indices) == 2 and two.meta["stopped"] == "budget"


def test_greedy_cover() -> None:
    cells = [{1, 2, 3}, {3, 4}, {1, 2}, {5}]
    assert greedy_cover(cells, 10) == ([0, 1, 3], [3, 1, 1])
    assert greedy_cover(cells, 10, min_gain=2) == ([0], [3])
    assert greedy_cover(cells, 1) == ([0], [3])


def test_cell_provider_is_pluggable() -> None:
    class Halves:
        """Cells: which half of the video a frame's brightness says it is in (a toy provider)."""

        def cells(self, frames: np.ndarray) -> list[set[int]]:
            return [{int(f.mean() > 127)} for f in frames]

    frames = np.concatenate([np.full((50, 8, 8, 3), 10, np.uint8), np.full((50, 8, 8, 3), 200, np.uint8)])
    sel = SpaceAwareSampler(cells=Halves())(
        FakeReader(frames, fps=5, gop=5), Budget(num_frames=8, size_px=28)
    )
    assert len(sel.indices) == 2 and sel.indices[0] < 50 <= sel.indices[1]
    with pytest.raises(ConfigError, match="cell provider"):
        SpaceAwareSampler(cells=object())


def test_patch_cells_same_view_same_cells() -> None:
    fr = calm_frames(n_scenes=2, length=2, h=96, w=160)
    c = PatchCodeCells().cells(fr)
    assert len(c[0] ^ c[1]) <= 0.2 * len(c[0])  # same view, noise apart: (nearly) the same cells
    assert len(c[0] & c[2]) <= 0.5 * len(c[0])  # another view: mostly other cells
