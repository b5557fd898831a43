"""The offline encoder used to measure compressor fidelity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videopipe.testing.patch_features import patch_tokens


def test_patch_tokens_follow_qwen_geometry_and_compare_content() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 56, 84, 3), dtype=np.uint8)
    frames[1] = frames[0]
    frames[1, :28, :28] = 255 - frames[0, :28, :28]  # one 28 px token changed
    vt = patch_tokens(frames, [0, 5], [0.0, 0.2], dim=64)
    assert len(vt) == 2 * 2 * 3 and vt.dim == 64 and vt.is_ordered()
    assert vt.tokens_per_frame() == {0: 6, 5: 6}
    x = torch.nn.functional.normalize(vt.features, dim=1)
    same = (x[:6] * x[6:]).sum(1)
    assert same[1:].min() > 0.999 and same[0] < 0.9  # only the changed token differs
    again = patch_tokens(frames, [0, 5], [0.0, 0.2], dim=64)
    assert torch.equal(vt.features, again.features)  # fixed projection
    with pytest.raises(ValueError, match="multiple of 28"):
        patch_tokens(frames[:, :50], [0, 5], [0.0, 0.2])
