"""videopipe.decode: open_video and the decoder backends (registry DECODERS)."""

from videopipe.registry import DECODERS as _REG  # noqa: F401
