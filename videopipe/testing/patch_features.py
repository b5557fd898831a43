"""Visual tokens of real frames without model weights: a fixed random projection of pixel patches.

Used by the compressor fidelity tests and benchmark. The geometry mimics Qwen2.5-VL: 14 px
patches, merged 2x2 into one 28 px token (a 28x28x3 = 2352-value vector after CLIP-style
normalisation), then projected to ``dim`` values by a fixed Gaussian matrix. A random
projection approximately preserves cosine similarities between the normalised pixel vectors
(Johnson-Lindenstrauss), so "token A is similar to token B" means "these patches look alike",
which is what coverage-style fidelity needs. A randomly initialised transformer tower would
not do that: its attention mixes tokens with random weights, so the features carry no
reliable notion of "same content".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from videopipe.geometry import fit_frame_size
from videopipe.types import VisualTokens

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def read_frames(
    path: str | Path, *, num_frames: int, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_frames`` frames spread uniformly over the video, decoded with PyAV (RGB),
    resized to ``size`` = (h, w) if given: (uint8 [T, H, W, 3], frame indices, times in s)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = stream.frames or sum(1 for p in container.demux(stream) if p.size)
    idx = np.unique(np.floor((np.arange(num_frames) + 0.5) * n / num_frames).astype(np.int64))
    wanted = set(idx.tolist())
    kw = {} if size is None else {"height": size[0], "width": size[1]}
    out, times, got = [], [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for i, fr in enumerate(container.decode(stream)):  # decode order is presentation order
            if i in wanted:
                out.append(fr.to_ndarray(format="rgb24", **kw))
                times.append(float(fr.time) if fr.time is not None else i / float(stream.average_rate or 25))
                got.append(i)
            if i >= idx[-1]:
                break
    idx = np.asarray(got, dtype=np.int64)
    return np.stack(out), idx, np.asarray(times, dtype=np.float64)


def patch_tokens(
    frames: np.ndarray | torch.Tensor,
    frame_idx: np.ndarray | torch.Tensor,
    time_s: np.ndarray | torch.Tensor,
    *,
    patch_px: int = 14,
    merge: int = 2,
    dim: int = 256,
    seed: int = 0,
) -> VisualTokens:
    """Tokens of uint8 frames [T, H, W, 3] (H, W multiples of patch_px * merge)."""
    x = torch.as_tensor(frames).float() / 255.0
    x = (x - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    t, h, w, c = x.shape
    tok = patch_px * merge
    if h % tok or w % tok:
        raise ValueError(f"frame size {h}x{w} must be a multiple of {tok} px")
    gh, gw = h // tok, w // tok
    patches = x.reshape(t, gh, tok, gw, tok, c).permute(0, 1, 3, 2, 4, 5).reshape(t, gh, gw, tok * tok * c)
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(tok * tok * c, dim, generator=g) / dim**0.5
    return VisualTokens.from_grid(patches @ proj, torch.as_tensor(frame_idx), torch.as_tensor(time_s))


def video_tokens(
    path: str | Path, *, num_frames: int, short_side_px: int = 224, token_px: int = 28, dim: int = 256
) -> VisualTokens:
    """Patch tokens of ``num_frames`` frames of a video, shorter side ``short_side_px``
    (aspect kept, both sides rounded to multiples of ``token_px``)."""
    import av

    with av.open(str(path)) as container:
        s = container.streams.video[0]
        h0, w0 = s.codec_context.height, s.codec_context.width
    size = fit_frame_size(h0, w0, short_side_px, token_px)
    frames, idx, times = read_frames(path, num_frames=num_frames, size=size)
    return patch_tokens(frames, idx, times, patch_px=token_px // 2, dim=dim)


def static_tokens(
    path: str | Path,
    *,
    num_frames: int,
    size: tuple[int, int] = (224, 224),
    noise: float = 2.0,
    seed: int = 0,
) -> VisualTokens:
    """A generated static video: the middle frame of ``path`` repeated ``num_frames`` times
    with Gaussian pixel noise (std ``noise`` grey levels), 25 fps."""
    frame, _, _ = read_frames(path, num_frames=1, size=size)
    rng = np.random.default_rng(seed)
    frames = np.clip(frame.astype(np.float64) + rng.normal(0, noise, (num_frames, *frame.shape[1:])), 0, 255)
    idx = np.arange(num_frames)
    return patch_tokens(frames.astype(np.uint8), idx, idx / 25.0)
