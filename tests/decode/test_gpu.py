"""GPU decoding (skipped without CUDA): torchcodec on CUDA is frame-exact and auto picks it."""

from __future__ import annotations

import pytest

from tests.decode.helpers import SPECS, gen_video, open_checked
from videopipe.decode import open_video
from videopipe.testing.videos import read_frame_number

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", ["h264", "h264_bframes", "hevc", "vfr_h264", "vp9_webm"])
def test_torchcodec_cuda_is_frame_exact(name):
    spec = SPECS[name]
    with open_video(gen_video(name), backend="torchcodec", device="cuda") as r:
        assert r.info.backend == "torchcodec"
        idx = [0, 7, 49, 50, 51, 99, spec.num_frames - 1]
        for size in (None, 48):
            fr = r.frames_at(idx[::-1], size=size)
            assert fr.data.device.type == "cpu"  # frames always come back in CPU memory
            assert [read_frame_number(a) for a in fr.data.numpy()] == idx[::-1]


def test_auto_uses_the_gpu_and_records_it():
    with open_video(gen_video("h264"), backend="auto", device="auto") as r:
        assert r.info.backend == "torchcodec"
        assert r._device.startswith("cuda")


def test_decord_cuda_refuses_cleanly_when_decord_has_no_cuda():
    from videopipe.decode.decord_backend import DecordReader
    from videopipe.errors import DeviceError

    if DecordReader.gpu_available():
        r = open_checked("h264", gen_video("h264"), "decord")
        assert r is not None
        return
    with pytest.raises(DeviceError, match="CUDA"):
        open_video(gen_video("h264"), backend="decord", device="cuda")
