"""The video zoo: a generated corpus of the kinds of files users actually have (every codec,
container and muxer quirk a decoder meets), each a few seconds long, for exactness tests.

Every file starts from one lossless *master* of numbered frames (see
:func:`videopipe.testing.videos.draw_frame_number`), so a test can read back which frame a
decoder returned, and is made from it by ffmpeg with the arguments of its :class:`ZooKind`
(then optionally post-processed: remuxed with a bitstream filter, cut, truncated). Files are
cached on disk by their recipe and never committed.

The reference a reader is checked against is ffmpeg itself (:func:`ffmpeg_frames`): frame
``i`` is the ``i``-th frame of a sequential ``ffmpeg -fps_mode passthrough`` decode, and the
frame count and duration are what ffprobe decodes (:func:`ffprobe_decoded`), never what the
container header says.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock

from videopipe.decode.probe import ffmpeg_bin, ffprobe_bin
from videopipe.testing.videos import VideoSpec, make_video, scenes_video, video_cache_dir

__all__ = ["ZOO", "ZooKind", "ffmpeg_frames", "ffprobe_decoded", "make_zoo_file", "master_video"]

MASTER_FRAMES = 75  # 3 s at 25 fps
MASTER_GOP = 25


def master_video(width: int = 160, height: int = 96) -> Path:
    """The lossless (FFV1) master every zoo file is made from: numbered frames, 25 fps."""
    spec: VideoSpec = scenes_video(
        (30, 25, 20), codec="ffv1", container="mkv", width=width, height=height, gop=MASTER_GOP
    )
    assert spec.num_frames == MASTER_FRAMES
    return make_video(spec)


@dataclass(frozen=True)
class ZooKind:
    """One kind of file: how to make it from the master, and what is special about it.

    ``args`` are ffmpeg output arguments (after ``-i MASTER``); ``pre`` go before the master's
    ``-i`` (extra inputs); ``post`` is a second ffmpeg pass over the result (``-i FIRST``
    then these arguments; stream copy with a bitstream filter, a cut; ``post_input`` go before
    its ``-i``); ``truncate`` keeps that fraction of the bytes; ``damage`` overwrites bytes in
    the middle with (seeded) random ones; ``needs`` lists the ffmpeg encoders the recipe needs (the test skips,
    saying so, where one is missing)."""

    name: str
    ext: str
    args: tuple[str, ...]
    what: str
    pre: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    post_ext: str | None = None
    post_input: tuple[str, ...] = ()  # options of the second pass before its ``-i`` (an input seek)
    truncate: float | None = None
    damage: tuple[float, int] | None = None  # (where, as a fraction of the bytes; how many bytes)
    needs: tuple[str, ...] = ()
    master_size: tuple[int, int] = (160, 96)  # (width, height)
    frame_numbers: bool = True  # every frame carries its readable number
    tags: frozenset[str] = field(default_factory=frozenset)

    def key(self) -> str:
        blob = json.dumps(
            [self.ext, self.args, self.pre, self.post, self.post_ext, self.truncate, self.master_size]
            + ([list(self.post_input), list(self.damage or ())] if self.post_input or self.damage else [])
        ).encode()
        return hashlib.sha1(blob).hexdigest()[:12]


_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p")
_GOP = ("-g", str(MASTER_GOP), "-keyint_min", str(MASTER_GOP), "-sc_threshold", "0")
_SINE = ("-f", "lavfi", "-i", "sine=frequency=440:duration=3")


def _x264(bf: int, *extra: str) -> tuple[str, ...]:
    return (*_X264, *_GOP, "-bf", str(bf), *extra)


def _remux(
    name: str,
    what: str,
    args: tuple[str, ...],
    *,
    bf: int,
    tags: set[str] = frozenset(),
    before_map: bool = False,
) -> ZooKind:
    """An H.264 MP4 with ``bf`` B-frames, then stream-copied with ``args`` (a bitstream filter,
    a cut, metadata); ``before_map`` puts them before ``-map`` (input-side options like ``-ss``)."""
    copy = ("-map", "0", "-c", "copy")
    post = (*args, *copy) if before_map else (*copy, *args)
    return ZooKind(name, "mp4", _x264(bf), what, post=post, post_ext="mp4", tags=frozenset(tags))


def _x265(pix_fmt: str, bf: int, *extra: str) -> tuple[str, ...]:
    params = f"keyint={MASTER_GOP}:min-keyint={MASTER_GOP}:bframes={bf}:log-level=error"
    return ("-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", pix_fmt, "-x265-params", params, *extra)


def _kinds() -> list[ZooKind]:
    k = ZooKind
    rot = [
        _remux(
            f"rotated_{deg}",
            f"H.264 with a {deg} degree display matrix (phone video)",
            ("-metadata:s:v:0", f"rotate={deg}"),
            bf=2,
            tags={"rotated"},
        )
        for deg in (90, 180, 270)
    ]
    return [
        k("h264_ip", "mp4", _x264(0), "H.264, I and P frames only"),
        k("h264_bframes", "mp4", _x264(3), "H.264 with 3 B-frames (the common case)"),
        k(
            "h264_open_gop",
            "mkv",
            (*_X264, "-x264-params", f"keyint={MASTER_GOP}:open-gop=1:scenecut=0:bframes=3"),
            "H.264 open GOP: leading B-frames after each keyframe reference the previous GOP",
        ),
        _remux(
            "h264_pts_eq_dts",
            "B-frame MP4 whose muxer wrote pts = dts (no composition offsets)",
            ("-bsf:v", "setts=pts=DTS"),
            bf=3,
            tags={"lies"},
        ),
        _remux(
            "mp4_edit_list",
            "MP4 cut by stream copy at a non-keyframe: an edit list hides the leading frames",
            ("-ss", "0.5"),
            bf=3,
            tags={"lies"},
            before_map=True,
        ),
        ZooKind(
            "mp4_edit_list_hides_frames",
            "mp4",
            _x264(2),
            "MP4 cut by an input seek and stream copy (ffmpeg -ss 1 -i A -c copy B): the edit list "
            "hides the 25 frames before 1 s, which are stored (their keyframe is needed) but never shown",
            post_input=("-ss", "1"),
            post=("-map", "0", "-c", "copy"),
            post_ext="mp4",
        ),
        _remux(
            "mp4_start_offset",
            "MP4 whose first frame is at 2 s (non-zero start time)",
            ("-output_ts_offset", "2"),
            bf=2,
        ),
        k(
            "audio_first",
            "mp4",
            ("-map", "0:a", "-map", "1:v", "-c:a", "aac", *_x264(2)),
            "audio stream before the video stream",
            pre=_SINE,
        ),
        k(
            "hevc_8bit",
            "mp4",
            _x265("yuv420p", 3, "-tag:v", "hvc1"),
            "HEVC 8-bit with B-frames",
            needs=("libx265",),
        ),
        k("hevc_10bit", "mkv", _x265("yuv420p10le", 2), "HEVC Main 10 in Matroska", needs=("libx265",)),
        k(
            "vp9_webm",
            "webm",
            ("-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "30", "-deadline", "realtime", "-cpu-used", "8")
            + ("-g", str(MASTER_GOP)),
            "VP9 in WebM (cues list keyframes only)",
            needs=("libvpx-vp9",),
        ),
        k(
            "vp8_webm",
            "webm",
            ("-c:v", "libvpx", "-b:v", "1M", "-deadline", "realtime", "-g", str(MASTER_GOP)),
            "VP8 in WebM",
            needs=("libvpx",),
        ),
        k(
            "av1_mkv",
            "mkv",
            (
                "-c:v",
                "libsvtav1",
                "-preset",
                "12",
                "-crf",
                "35",
                "-g",
                str(MASTER_GOP),
                "-pix_fmt",
                "yuv420p",
            ),
            "AV1 (SVT-AV1) in Matroska",
            needs=("libsvtav1",),
        ),
        k(
            "av1_webm",
            "webm",
            ("-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "40", "-g", str(MASTER_GOP), "-row-mt", "1"),
            "AV1 (libaom) in WebM",
            needs=("libaom-av1",),
        ),
        k(
            "mpeg2_ts",
            "ts",
            ("-c:v", "mpeg2video", "-q:v", "3", "-bf", "2", "-g", "12"),
            "MPEG-2 in MPEG-TS (broadcast recording), progressive",
            tags=frozenset({"lies"}),
        ),
        k(
            "mpeg2_ts_interlaced",
            "ts",
            ("-c:v", "mpeg2video", "-q:v", "3", "-bf", "2", "-g", "12", "-flags", "+ilme+ildct", "-top", "1"),
            "MPEG-2 in MPEG-TS, interlaced (field-coded, top field first)",
            tags=frozenset({"lies"}),
        ),
        k(
            "mpeg2_ps",
            "mpg",
            ("-c:v", "mpeg2video", "-q:v", "3", "-bf", "2", "-g", "12", "-f", "vob"),
            "MPEG-2 program stream (DVD VOB)",
            tags=frozenset({"lies"}),
        ),
        k(
            "mpeg4_avi_packed",
            "avi",
            ("-c:v", "libxvid", "-q:v", "3", "-bf", "2", "-g", str(MASTER_GOP)),
            "MPEG-4 Part 2 (Xvid) in AVI with packed B-frames (DivX 5 / Xvid 'packed bitstream')",
            needs=("libxvid",),
            tags=frozenset({"lies"}),
        ),
        k(
            "mpeg4_avi",
            "avi",
            ("-c:v", "mpeg4", "-q:v", "3", "-bf", "2", "-g", str(MASTER_GOP)),
            "MPEG-4 Part 2 in AVI with B-frames, unpacked",
        ),
        k(
            "msmpeg4_avi",
            "avi",
            ("-c:v", "msmpeg4", "-q:v", "3", "-g", str(MASTER_GOP)),
            "MS MPEG-4 v3 (DivX 3) in AVI",
        ),
        k("mjpeg_avi", "avi", ("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"), "Motion JPEG in AVI"),
        k("ffv1_mkv", "mkv", ("-c:v", "ffv1", "-level", "3"), "FFV1 lossless in Matroska"),
        k(
            "prores_mov",
            "mov",
            ("-c:v", "prores_ks", "-profile:v", "0"),
            "ProRes 422 Proxy in QuickTime (editing intermediate)",
        ),
        k(
            "h264_yuv444",
            "mp4",
            (*_X264[:-1], "yuv444p", *_GOP, "-bf", "2"),
            "H.264 High 4:4:4 (yuv444p)",
        ),
        k(
            "odd_dims",
            "mkv",
            (*_X264[:-1], "yuv444p", *_GOP, "-bf", "2", "-vf", "crop=155:91:0:0"),
            "odd frame size (155x91)",
        ),
        *rot,
        k(
            "vfr_mp4",
            "mp4",
            (
                "-vf",
                "setpts='(N + 3*floor(N/3) + if(gte(mod(N,3),2),1,0))/(FRAME_RATE*TB)'",
                *_x264(2),
                "-fps_mode",
                "passthrough",
            ),
            "variable frame rate (frame durations 1x/2x/3x), H.264 in MP4",
            tags=frozenset({"vfr"}),
        ),
        k(
            "ntsc_mkv",
            "mkv",
            ("-vf", "setpts=N*1001/30000/TB", "-r", "30000/1001", *_x264(2)),
            "29.97 fps in Matroska: timestamps rounded to 1 ms (constant rate, not VFR)",
        ),
        k("one_frame", "mp4", ("-frames:v", "1", *_x264(0)), "a single frame"),
        k("two_frames", "mp4", ("-frames:v", "2", *_x264(2)), "two frames"),
        k(
            "truncated_mp4",
            "mp4",
            (*_x264(2), "-movflags", "+faststart"),
            "MP4 cut off mid-GOP (download interrupted): the index lists frames past the end",
            truncate=0.8,
            tags=frozenset({"truncated"}),
        ),
        k(
            "damaged_mkv",
            "mkv",
            (*_X264, "-x264-params", f"keyint={MASTER_GOP}:open-gop=1:scenecut=0:bframes=3"),
            "Matroska with 2,000 bytes overwritten mid-file: the demuxer skips damaged data and "
            "packets that are left do not all decode",
            damage=(0.45, 2000),
            tags=frozenset({"damaged", "lies"}),  # the damaged frames' decoded times are out of order
        ),
        k(
            "truncated_avi",
            "avi",
            ("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"),
            "AVI cut off: no idx1 index, the header claims more frames than the packets hold",
            truncate=0.6,
            tags=frozenset({"truncated"}),
        ),
        k(
            "two_video_streams",
            "mkv",
            (
                "-filter_complex",
                "[0:v]split[a][b];[b]scale=80:48[s]",
                "-map",
                "[a]",
                "-map",
                "[s]",
                *_x264(2),
            ),
            "two video streams (main + a small preview); the first is read",
        ),
        k(
            "uhd_4k",
            "mp4",
            ("-frames:v", "30", "-vf", "scale=3840:2160:flags=neighbor", *_x264(2)),
            "4K (3840x2160) H.264",
            tags=frozenset({"large"}),
        ),
    ]


ZOO: dict[str, ZooKind] = {z.name: z for z in _kinds()}


def _encoders() -> set[str]:
    out = subprocess.run(
        [ffmpeg_bin(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6:
            names.add(parts[1])
    return names


_ENCODERS: set[str] | None = None


def missing_encoders(kind: ZooKind) -> list[str]:
    """The encoders ``kind`` needs that this machine's ffmpeg lacks."""
    global _ENCODERS
    if _ENCODERS is None:
        _ENCODERS = _encoders()
    return [e for e in kind.needs if e not in _ENCODERS]


def _run(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg failed making {what}: {r.stderr.strip()[-1500:]}")


def make_zoo_file(name: str, *, cache_dir: Path | None = None) -> Path:
    """Path of the zoo file ``name`` (made once, cached)."""
    kind = ZOO[name]
    out_dir = (cache_dir or video_cache_dir()) / "zoo"
    out_dir.mkdir(parents=True, exist_ok=True)
    ext = kind.post_ext or kind.ext
    path = out_dir / f"{name}-{kind.key()}.{ext}"
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size > 0:
            return path
        master = master_video(*kind.master_size)
        base = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y"]
        first = out_dir / f"{name}.tmp1.{kind.ext}"
        _run([*base, *kind.pre, "-i", str(master), *kind.args, str(first)], name)
        result = first
        if kind.post:
            second = out_dir / f"{name}.tmp2.{ext}"
            _run([*base, *kind.post_input, "-i", str(first), *kind.post, str(second)], name)
            first.unlink(missing_ok=True)
            result = second
        if kind.truncate is not None:
            data = result.read_bytes()
            result.write_bytes(data[: int(len(data) * kind.truncate)])
        if kind.damage is not None:
            data = bytearray(result.read_bytes())
            at, n = int(len(data) * kind.damage[0]), kind.damage[1]
            data[at : at + n] = np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()
            result.write_bytes(bytes(data))
        shutil.move(str(result), path)
    return path


# ----------------------------------------------------------------------------------------
# The reference: what ffmpeg itself decodes
# ----------------------------------------------------------------------------------------
def ffmpeg_frames(
    path: str | Path, video_ordinal: int, width: int, height: int, indices: Sequence[int] | None = None
) -> np.ndarray:
    """Frames of a sequential ``ffmpeg -fps_mode passthrough`` decode of video stream
    ``video_ordinal``, upright (ffmpeg's autorotate), as uint8 [N, height, width, 3] RGB: every
    frame, or only the decoded frames numbered ``indices`` (in increasing order, picked by the
    ``select`` filter, which counts frames as the decoder outputs them). ``width``/``height``
    are the upright size (no scaling happens)."""
    pick: list[str] = []
    if indices is not None:
        expr = "+".join(f"eq(n\\,{int(i)})" for i in sorted(set(indices)))
        pick = ["-vf", f"select={expr}"]
    cmd = [
        ffmpeg_bin(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-map",
        f"0:v:{video_ordinal}",
        *pick,
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    r = subprocess.run(cmd, capture_output=True, check=False)
    frame = width * height * 3
    n = len(r.stdout) // frame
    return np.frombuffer(r.stdout[: n * frame], np.uint8).reshape(n, height, width, 3)


@dataclass(frozen=True)
class Decoded:
    """What ffprobe decodes from a video stream (not what the header says)."""

    num_frames: int
    duration_s: float
    pts_s: np.ndarray  # presentation time of each frame, from the first frame, in output order


def ffprobe_decoded(path: str | Path, video_ordinal: int) -> Decoded:
    """Frame count, duration (first frame's start to the last frame's end) and frame times of
    a sequential decode, from ``ffprobe -show_frames``."""
    cmd = [
        ffprobe_bin(),
        "-v",
        "error",
        "-select_streams",
        f"v:{video_ordinal}",
        "-show_entries",
        "frame=best_effort_timestamp_time,pkt_duration_time,duration_time",
        "-of",
        "json",
        str(path),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    frames = json.loads(r.stdout or "{}").get("frames", [])
    if not frames:
        return Decoded(0, 0.0, np.zeros(0))

    def num(f: dict, *keys: str) -> float:
        for k in keys:
            try:
                return float(f[k])
            except (KeyError, ValueError):
                continue
        return float("nan")

    t = np.array([num(f, "best_effort_timestamp_time") for f in frames], np.float64)
    dur = np.array([num(f, "duration_time", "pkt_duration_time") for f in frames], np.float64)
    step = float(np.nanmedian(np.diff(t))) if np.isfinite(t).sum() > 1 else float(np.nanmedian(dur))
    dur[~np.isfinite(dur)] = step
    for i in np.flatnonzero(~np.isfinite(t)):  # a frame without a time (a flushed last frame)
        t[i] = t[i - 1] + dur[i - 1] if i > 0 else 0.0
    return Decoded(len(frames), float(t.max() + dur[int(np.argmax(t))] - t.min()), t - t.min())
