"""Writing frames to disk: one JPEG per frame and a contact sheet PNG."""

from __future__ import annotations

import math
from pathlib import Path

from videopipe.types import Frames


def write_frames(frames: Frames, out: Path, *, columns: int = 8) -> list[Path]:
    """Write ``frame_<index>_<time>.jpg`` files and ``contact_sheet.png`` into ``out``."""
    from PIL import Image, ImageDraw

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    imgs = []
    host = frames.array
    for k in range(len(frames)):
        img = Image.fromarray(host[k])
        idx, t = int(frames.index_array[k]), float(frames.pts_array[k])
        p = out / f"frame_{idx:08d}_{t:010.3f}s.jpg"
        img.save(p, quality=90)
        paths.append(p)
        imgs.append((img, f"#{idx} {t:.2f}s"))
    if imgs:
        tw = 256
        th = max(1, round(tw * frames.height / max(1, frames.width)))
        cols = min(columns, len(imgs))
        rows = math.ceil(len(imgs) / cols)
        sheet = Image.new("RGB", (cols * tw, rows * (th + 16)), "black")
        draw = ImageDraw.Draw(sheet)
        for k, (img, label) in enumerate(imgs):
            r, c = divmod(k, cols)
            sheet.paste(img.resize((tw, th), Image.Resampling.BOX), (c * tw, r * (th + 16)))  # area average
            draw.text((c * tw + 4, r * (th + 16) + th + 2), label, fill="white")
        sheet.save(out / "contact_sheet.png", compress_level=1)  # 2x faster than the default, ~same size
    return paths
