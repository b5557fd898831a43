"""How videopipe opens a local media file with libavformat: the one policy for ffprobe, ffmpeg
and PyAV (torchcodec and decord only ever open a file this policy's probe accepted).

libavformat picks a demuxer from a file's first bytes and its name, and some demuxers are
scripts that open *other* files and URLs: an HLS playlist (``hls``), an ffconcat list
(``concat``), a DASH manifest, an SDP description (RTP sockets), an image-sequence pattern
(``image2``), an IMF composition... A folder of downloaded files, or a server's ``--allow-dir``,
would then be a way to read anything the process can reach. So every opening:

- uses the ``file`` protocol only (``protocol_whitelist=file``, and the path spelled
  ``file:/absolute/path``, so a name with a colon is never a protocol);
- accepts only the single-file container demuxers of :data:`MEDIA_FORMATS`
  (``format_whitelist``); libavformat checks the list right after it has probed the file's
  first bytes, before the demuxer reads anything, so a refused file opens nothing else.

A refused file is named with what it is (:func:`refusal`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from videopipe.errors import MissingDependencyError, UnsupportedVideoError

__all__ = [
    "ffmpeg_bin",
    "ffprobe_bin",
    "MEDIA_FORMATS",
    "SCRIPT_FORMATS",
    "container_options",
    "ffmpeg_input_args",
    "media_url",
    "open_av",
    "refusal",
    "refused_format",
]

#: libavformat demuxers (names as ``ffmpeg -demuxers`` lists them) that read one self-contained
#: file: video containers and raw video streams, then audio containers (an audio-only file gets
#: "has no video stream", and its audio can be transcribed)
VIDEO_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",  # MP4, MOV, M4V, 3GP (external data references stay off)
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",  # MPEG program stream (VOB, .mpg)
    "mpegvideo",  # raw MPEG-1/2 video
    "m4v",  # raw MPEG-4 part 2
    "h264",
    "hevc",
    "vvc",
    "obu",  # raw AV1
    "ivf",
    "flv",
    "ogg",
    "asf",  # WMV/WMA
    "mxf",
    "nut",
    "dv",
    "rm",
    "wtv",
    "vc1",
    "mjpeg",
    "yuv4mpegpipe",
    "gif",
)
AUDIO_DEMUXERS = ("mp3", "wav", "w64", "flac", "aac", "ac3", "eac3", "aiff", "caf", "wv", "amr")
MEDIA_FORMATS = ",".join(VIDEO_DEMUXERS + AUDIO_DEMUXERS)

#: demuxers that open other files or URLs named inside the file (or a pattern of them)
SCRIPT_FORMATS = frozenset(
    {
        "hls",
        "concat",
        "dash",
        "webm_dash_manifest",
        "sdp",
        "rtp",
        "rtsp",
        "image2",
        "imf",
        "mlv",
        "lavfi",
        "ffmetadata",
        "tee",
        "hds",
    }
)


def _program(name: str, what: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MissingDependencyError(
            f"{name} is not installed{what}; install it with your system package manager "
            "(Debian/Ubuntu: sudo apt-get install ffmpeg)"
        )
    return exe


def ffmpeg_bin() -> str:
    """The ffmpeg executable (MissingDependencyError with the install command when absent)."""
    return _program("ffmpeg", "")


def ffprobe_bin() -> str:
    """The ffprobe executable (MissingDependencyError with the install command when absent)."""
    return _program("ffprobe", " (it comes with ffmpeg)")


def media_url(path: str | Path) -> str:
    """``file:`` + the absolute path: libavformat reads it as a local file whatever the name."""
    return "file:" + os.path.abspath(os.fspath(path))


def container_options() -> dict[str, str]:
    """libavformat options of every opening (PyAV's ``container_options``)."""
    return {"protocol_whitelist": "file", "format_whitelist": MEDIA_FORMATS}


def ffmpeg_input_args() -> list[str]:
    """ffprobe / ffmpeg input options of the policy (put them before the input, and spell
    the input :func:`media_url`)."""
    return ["-protocol_whitelist", "file", "-format_whitelist", MEDIA_FORMATS]


_REFUSED = re.compile(r"^\s*\[([^\]@]+?)\s*@\s*0x[0-9a-fA-F]+\]\s*Format not on whitelist", re.M)


def refused_format(stderr: str) -> str | None:
    """The demuxer libavformat refused by the whitelist, from ffmpeg/ffprobe's log, or None."""
    m = _REFUSED.search(stderr)
    return m.group(1).strip() if m else None


def refusal(path: str | Path, fmt: str) -> UnsupportedVideoError:
    """The error for a file whose detected demuxer ``fmt`` is not on :data:`MEDIA_FORMATS`."""
    if fmt in SCRIPT_FORMATS:
        return UnsupportedVideoError(
            f"{path}: is a playlist/script ({fmt}) that names other files or URLs; videopipe opens "
            "only media files -- pass the video file itself"
        )
    return UnsupportedVideoError(
        f"{path}: is a {fmt} file, not a video container videopipe opens (MP4/MOV, Matroska/WebM, "
        "AVI, MPEG-TS/PS, FLV, Ogg, WMV, MXF, NUT, raw H.264/HEVC/AV1...); re-encode it "
        "(e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)"
    )


def detect_refusal(path: str | Path) -> UnsupportedVideoError | None:
    """Ask ffprobe (under the policy) whether ``path`` is refused; the error to raise, or None."""
    r = subprocess.run(
        [ffprobe_bin(), "-hide_banner", "-v", "error", *ffmpeg_input_args(), media_url(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    fmt = refused_format(r.stderr)
    return None if fmt is None else refusal(path, fmt)


def open_av(path: str | Path) -> Any:
    """``av.open`` of a local media file under the policy. A file the whitelist refuses raises
    :class:`UnsupportedVideoError` naming what it is; PyAV's other errors pass through."""
    import av

    try:
        return av.open(
            media_url(path), mode="r", metadata_errors="ignore", container_options=container_options()
        )
    except (av.FFmpegError, OSError):
        why = detect_refusal(path)
        if why is not None:
            raise why from None
        raise
