"""Core types, registry and config."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from videopipe.config import PipelineConfig
from videopipe.errors import ConfigError, UnknownPluginError
from videopipe.registry import Registry
from videopipe.types import Budget, Clip, Frames, Selection, VisualTokens


def _frames(n: int = 4) -> Frames:
    return Frames(
        data=torch.zeros(n, 8, 10, 3, dtype=torch.uint8),
        pts_s=torch.arange(n) / 25.0,
        indices=torch.arange(n),
        clip_ids=torch.zeros(n, dtype=torch.int64),
    )


def test_frames_validates_and_slices() -> None:
    f = _frames(5)
    assert len(f) == 5 and f.height == 8 and f.width == 10
    sub = f[1:3]
    assert sub.indices.tolist() == [1, 2] and sub.pts_s.dtype == torch.float64
    picked = f[[4, 0]]
    assert picked.indices.tolist() == [4, 0] and picked.clip_ids is not None
    assert "(5, 8, 10, 3)" in repr(f)
    with pytest.raises(ValueError, match="uint8"):
        Frames(data=torch.zeros(2, 4, 4, 3), pts_s=[0, 1], indices=[0, 1])
    with pytest.raises(ValueError, match="entries"):
        Frames(data=torch.zeros(2, 4, 4, 3, dtype=torch.uint8), pts_s=[0], indices=[0, 1])


def test_frames_numpy_storage_gives_zero_copy_torch_views() -> None:
    arr = np.arange(4 * 2 * 3 * 3, dtype=np.uint8).reshape(4, 2, 3, 3)
    f = Frames(arr, pts_s=[0.0, 0.04, 0.08, 0.12], indices=[10, 11, 12, 13])
    assert f.array is arr and f.on_host
    t = f.data  # a view: same memory, no copy
    assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and t.data_ptr() == arr.ctypes.data
    assert f.data is t and f.indices.dtype == torch.int64 and f.pts_s.dtype == torch.float64
    assert f.index_array.tolist() == [10, 11, 12, 13] and f.clip_array is None and f.clip_ids is None
    # every kind of index selects the same frames
    for key in ([3, 1], np.array([3, 1]), torch.tensor([3, 1])):
        sub = f[key]
        assert sub.index_array.tolist() == [13, 11] and np.array_equal(sub.array, arr[[3, 1]])
    assert f[-1].index_array.tolist() == [13] and f[np.int64(2)].index_array.tolist() == [12]
    for mask in ([True, False, False, True], np.array([1, 0, 0, 1], bool), torch.tensor([1, 0, 0, 1]).bool()):
        assert f[mask].index_array.tolist() == [10, 13]  # boolean masks select, not index 0/1
    # replace keeps the pixels, concat mixes numpy and torch parts
    r = f.replace(clip_ids=np.zeros(4, np.int64), pts_s=np.ones(4))
    assert r.array is arr and r.clip_ids.tolist() == [0] * 4 and r.pts_s.tolist() == [1.0] * 4
    gpu_like = Frames(torch.zeros(2, 2, 3, 3, dtype=torch.uint8), pts_s=[0.5, 0.6], indices=[0, 1])
    both = Frames.concat([f[:2], gpu_like])
    assert isinstance(both.data, torch.Tensor) and both.index_array.tolist() == [10, 11, 0, 1]
    only_np = Frames.concat([f[:1], f[3:]])
    assert isinstance(only_np.array, np.ndarray) and only_np.index_array.tolist() == [10, 13]
    # immutable and picklable like the other types
    with pytest.raises(AttributeError, match="immutable"):
        f.pts_s = None  # type: ignore[misc]
    back = pickle.loads(pickle.dumps(r))
    assert np.array_equal(back.array, arr) and back.clip_array.tolist() == [0] * 4
    with pytest.raises(TypeError, match="numpy array or torch.Tensor"):
        Frames([[1]], pts_s=[0], indices=[0])


def test_selection_rejects_duplicates_and_disorder() -> None:
    a = Clip(start_s=0.0, end_s=1.0, indices=(0, 5), times_s=(0.0, 0.2))
    b = Clip(start_s=2.0, end_s=3.0, indices=(50,), times_s=(2.0,))
    s = Selection((a, b))
    assert s.indices == [0, 5, 50] and s.num_frames == 3
    with pytest.raises(ValueError, match="time order"):
        Selection((b, a))
    with pytest.raises(ValueError, match="twice"):
        Selection((a, Clip(start_s=2.0, end_s=3.0, indices=(5,), times_s=(2.0,))))
    budget = Budget(num_frames=8, token_px=28)
    assert s.tokens(budget, (56, 84)) == 3 * 2 * 3


def test_budget_geometry() -> None:
    b = Budget(num_frames=10, max_tokens=100, size_px=448, token_px=28)
    assert b.frame_size(720, 1280) == (448, 784)  # shorter side 448, aspect kept, multiples of 28
    assert b.max_frames_for(56, 56) == 10  # 4 tokens/frame -> token budget allows 25
    assert b.max_frames_for(280, 280) == 1  # 100 tokens/frame
    with pytest.raises(ValueError):
        Budget(num_frames=None, max_tokens=None)


def _tokens() -> VisualTokens:
    feats = torch.randn(3, 2, 2, 4)
    return VisualTokens.from_grid(feats, frame_idx=[0, 10, 20], time_s=[0.0, 0.4, 0.8])


def test_visual_tokens_select_and_merge_keep_alignment() -> None:
    vt = _tokens()
    assert len(vt) == 12 and vt.is_ordered()
    kept = vt.select(torch.tensor([7, 0, 3]))
    assert kept.frame_idx.tolist() == [0, 0, 10] and kept.is_ordered()
    # merge frame 10's tokens into frame 0's at the same (row, col)
    group = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7])
    rep = torch.tensor([0, 1, 2, 3, 8, 9, 10, 11])
    merged = vt.merge(group, rep)
    assert len(merged) == 8 and float(merged.size.sum()) == 12.0
    assert merged.is_ordered()
    expect = (vt.features[0] + vt.features[4]) / 2
    assert torch.allclose(merged.features[0], expect, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        VisualTokens(vt.features, vt.frame_idx[:3], vt.time_s, vt.row, vt.col, vt.size)


def test_registry_lazy_and_errors() -> None:
    reg = Registry("widget")
    reg.register("json_dumps", "json:dumps", summary="lazy")
    reg.register("plain", lambda x=1: x * 2)
    assert reg.names() == ["json_dumps", "plain"]
    assert reg.create("plain", x=None) == 2  # None kwargs are dropped
    assert reg.get("json_dumps")([1]) == "[1]"
    with pytest.raises(UnknownPluginError, match="valid names: json_dumps, plain"):
        reg.get("nope")


def test_config_roundtrip_and_validation(tmp_path) -> None:
    cfg = PipelineConfig(num_frames=8, sampler="keyframe", max_visual_tokens=512)
    p = tmp_path / "videopipe.toml"
    cfg.save(p)
    assert PipelineConfig.load(p) == cfg
    assert cfg.with_overrides(num_frames=None, sampler="uniform").sampler == "uniform"
    p.write_text("[pipeline]\nnum_frame = 3\n")
    with pytest.raises(ConfigError, match="unknown option"):
        PipelineConfig.load(p)
    with pytest.raises(ConfigError, match="device"):
        PipelineConfig(device="tpu")


def test_import_is_light() -> None:
    code = (
        "import sys, videopipe, videopipe.types, videopipe.decode.pyav_backend; "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_visual_tokens_reexported_from_types() -> None:
    import videopipe.types as types
    from videopipe.visual_tokens import VisualTokens as VT

    assert types.VisualTokens is VT is VisualTokens
    with pytest.raises(AttributeError):
        types.NoSuchType  # noqa: B018
