"""`videopipe frames --out`: frames written chunk by chunk, the contact sheet row by row."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from videopipe.cli.frames import _write_selection, write_chunks
from videopipe.cli.images import SHEET_LABEL_H, SHEET_TILE_W, write_frames
from videopipe.decode import open_video
from videopipe.testing.videos import make_video, read_frame_number, scenes_video

VIDEO = scenes_video((80, 70, 90, 60), gop=25)  # 300 frames, 12 groups of pictures


def _sheet_in_one_image(frames, columns=8):
    """The contact sheet as it was made before it was streamed: one image, then saved."""
    imgs = [Image.fromarray(a) for a in frames.array]
    tw, th = SHEET_TILE_W, max(1, round(SHEET_TILE_W * frames.height / max(1, frames.width)))
    cols = min(columns, len(imgs))
    rows = math.ceil(len(imgs) / cols)
    sheet = Image.new("RGB", (cols * tw, rows * (th + SHEET_LABEL_H)), "black")
    draw = ImageDraw.Draw(sheet)
    for k, img in enumerate(imgs):
        r, c = divmod(k, cols)
        idx, t = int(frames.index_array[k]), float(frames.pts_array[k])
        sheet.paste(img.resize((tw, th), Image.Resampling.BOX), (c * tw, r * (th + SHEET_LABEL_H)))
        draw.text((c * tw + 4, r * (th + SHEET_LABEL_H) + th + 2), f"#{idx} {t:.2f}s", fill="white")
    return np.asarray(sheet)


def test_chunked_writing_gives_the_frames_and_sheet_of_one_batch(tmp_path):
    idx = list(range(3, 300, 7))  # 43 frames: several chunks, a partial last sheet row
    with open_video(make_video(VIDEO)) as r:
        whole = r.frames_at(idx, size=48)
        _write_selection(r, idx, 48, tmp_path / "chunked")
    write_frames(whole, tmp_path / "whole")
    jpgs = sorted((tmp_path / "chunked").glob("frame_*.jpg"))
    assert [p.name for p in jpgs] == sorted(p.name for p in (tmp_path / "whole").glob("frame_*.jpg"))
    for p in jpgs:
        a = np.asarray(Image.open(p).convert("RGB"))
        assert np.array_equal(a, np.asarray(Image.open(tmp_path / "whole" / p.name).convert("RGB")))
        assert read_frame_number(a) == int(p.name.split("_")[1])
    sheet = np.asarray(Image.open(tmp_path / "chunked" / "contact_sheet.png").convert("RGB"))
    np.testing.assert_array_equal(sheet, _sheet_in_one_image(whole))
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "whole" / "contact_sheet.png").convert("RGB")), sheet
    )


def test_chunks_are_bounded_and_end_between_groups_of_pictures():
    with open_video(make_video(VIDEO)) as r:
        keys = r.indices_at_times(r.keyframe_times()).tolist()
        every = list(range(300))
        chunks = write_chunks(r, every, chunk=32)
        assert sum(chunks, []) == every
        assert all(len(c) <= 64 for c in chunks)
        for c in chunks[:-1]:
            assert c[-1] + 1 in keys  # the next chunk starts a group of pictures
        dense_one_group = list(range(26, 49))
        assert write_chunks(r, dense_one_group, chunk=4) != [dense_one_group]  # capped at 2 x chunk
        assert write_chunks(r, [], chunk=4) == []
