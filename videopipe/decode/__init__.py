"""videopipe.decode: open_video and the decoder backends (registry DECODERS).

Backends are registered lazily: importing this package imports no decoder library.
"""

from __future__ import annotations

from videopipe.registry import DECODERS as _REG

_REG.register(
    "pyav",
    "videopipe.decode.pyav_backend:PyAVReader",
    summary="PyAV/libavcodec on the CPU; exact seek + decode forward; keyframe fast path",
)
_REG.register(
    "torchcodec",
    "videopipe.decode.torchcodec_backend:TorchCodecReader",
    summary="torchcodec on the CPU or CUDA (NVDEC); our frame table as custom_frame_mappings",
)
_REG.register(
    "decord",
    "videopipe.decode.decord_backend:DecordReader",
    summary="decord (CPU; GPU if built with CUDA); only where verified frame-exact",
)

from videopipe.decode.select import open_video  # noqa: E402

__all__ = ["open_video"]
