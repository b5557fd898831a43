"""Generate test videos with ffmpeg, cached on disk (never committed).

Every generated frame carries its frame number as a machine-readable code: the top third
of the frame is a 2 x 8 grid of cells, cell ``k`` white when bit ``k`` of the frame number is
set (16 bits). :func:`read_frame_number` reads it back from a decoded (possibly resized)
frame, so a test can check *which* frame a decoder returned.

The rest of the frame is the scene: a smooth random texture chosen per scene (seeded), that
drifts slowly so neighbouring frames differ a little, and changes completely at each scene
cut. "Needle" scenes are a flat, saturated colour (see :data:`NEEDLE_COLORS`), which the
deterministic ``color`` embedder matches to colour words in a query.

Long videos for scaling tests and benchmarks use ffmpeg's own ``testsrc2`` source
(:func:`make_long_video`), which is fast to encode at 720p.

This lives in the package (``videopipe.testing``) rather than ``tests/`` so that benchmarks
and notebooks generate the same videos.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock

from videopipe.decode.probe import ffmpeg_bin
from videopipe.settings import default_cache_dir

CODE_BITS = 16
CODE_ROWS, CODE_COLS = 2, 8

NEEDLE_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 20, 20),
    "green": (20, 200, 40),
    "blue": (20, 40, 230),
    "yellow": (235, 225, 20),
    "magenta": (220, 20, 220),
    "cyan": (20, 220, 220),
}


def video_cache_dir() -> Path:
    d = default_cache_dir() / "test-videos"
    d.mkdir(parents=True, exist_ok=True)
    return d


# ----------------------------------------------------------------------------------------
# Frame content
# ----------------------------------------------------------------------------------------
def draw_frame_number(frame: np.ndarray, number: int) -> None:
    """Write ``number`` into the top third of ``frame`` (uint8 [H, W, 3]) in place."""
    h, w, _ = frame.shape
    band = h // 3
    ch, cw = band // CODE_ROWS, w // CODE_COLS
    frame[: ch * CODE_ROWS, : cw * CODE_COLS] = 0
    for k in range(CODE_BITS):
        if (number >> k) & 1:
            r, c = divmod(k, CODE_COLS)
            frame[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = 255


def read_frame_number(frame: np.ndarray | object) -> int:
    """Read back the number written by :func:`draw_frame_number` (frame uint8 [H, W, 3],
    numpy or torch, any size the decoder resized it to, same aspect layout)."""
    arr = np.asarray(frame)
    h, w, _ = arr.shape
    band = h / 3
    ch, cw = band / CODE_ROWS, w / CODE_COLS
    gray = arr.astype(np.float32).mean(axis=2)
    n = 0
    for k in range(CODE_BITS):
        r, c = divmod(k, CODE_COLS)
        # sample the centre half of the cell, away from edges blurred by compression/resizing
        y0, y1 = int((r + 0.25) * ch), max(int((r + 0.75) * ch), int((r + 0.25) * ch) + 1)
        x0, x1 = int((c + 0.25) * cw), max(int((c + 0.75) * cw), int((c + 0.25) * cw) + 1)
        if gray[y0:y1, x0:x1].mean() > 127:
            n |= 1 << k
    return n


def _texture(seed: int, h: int, w: int) -> np.ndarray:
    """A smooth colour texture, twice the frame size so it can drift."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    # nearest-upsample then box-blur -> smooth blobs, cheap and deterministic
    big = np.repeat(np.repeat(small, 16, axis=0), 16, axis=1)[: 2 * h, : 2 * w]
    k = 9
    pad = np.pad(big, ((k, k), (k, k), (0, 0)), mode="wrap")
    cs = pad.cumsum(0)
    big = (cs[2 * k :] - cs[: -2 * k])[:, :] / (2 * k)
    cs = big.cumsum(1)
    big = (cs[:, 2 * k :] - cs[:, : -2 * k]) / (2 * k)
    return np.clip(big[: 2 * h, : 2 * w], 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Scene:
    """A scene of ``num_frames`` frames: a drifting texture (``seed``) or a flat colour."""

    num_frames: int
    seed: int = 0
    color: str | None = None  # a NEEDLE_COLORS name for a flat "needle" scene


@dataclass(frozen=True)
class VideoSpec:
    """Everything that determines a generated video (its cache key)."""

    scenes: tuple[Scene, ...]
    width: int = 160
    height: int = 96
    fps: float = 25.0
    codec: str = "libx264"  # libx264 | libx265 | libvpx-vp9 | mpeg4 | msmpeg4 | ffv1
    container: str = "mp4"  # mp4 | mkv | webm | avi
    gop: int = 50
    bframes: int = 0
    vfr: bool = False  # variable frame rate: frame durations alternate 1x / 2x / 3x the base
    rotation: int = 0  # display rotation metadata in degrees
    audio: bool = False  # add a sine audio track (placed *before* the video stream)
    number_frames: bool = True
    crf: int = 18
    extra_args: tuple[str, ...] = field(default=())

    @property
    def num_frames(self) -> int:
        return sum(s.num_frames for s in self.scenes)

    @property
    def cut_frames(self) -> list[int]:
        """Frame numbers where a new scene starts (first frame of each scene but the first)."""
        out, n = [], 0
        for s in self.scenes[:-1]:
            n += s.num_frames
            out.append(n)
        return out

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:16]

    def frame_pts(self) -> np.ndarray:
        """Presentation time (s) of every frame, as generated."""
        if not self.vfr:
            return np.arange(self.num_frames) / self.fps
        dur = np.array([(i % 3) + 1 for i in range(self.num_frames)], dtype=np.float64) / self.fps
        return np.concatenate([[0.0], np.cumsum(dur)[:-1]])


def render_frames(spec: VideoSpec):
    """Yield uint8 [H, W, 3] frames of ``spec`` in order."""
    h, w = spec.height, spec.width
    n = 0
    for scene in spec.scenes:
        tex = None if scene.color else _texture(scene.seed, h, w)
        for i in range(scene.num_frames):
            if scene.color:
                frame = np.empty((h, w, 3), np.uint8)
                frame[:] = NEEDLE_COLORS[scene.color]
            else:
                assert tex is not None
                dy, dx = (i // 2) % h, i % w  # slow drift
                frame = np.ascontiguousarray(tex[dy : dy + h, dx : dx + w])
            if spec.number_frames:
                draw_frame_number(frame, n)
            yield frame
            n += 1


def _encoder_args(spec: VideoSpec) -> list[str]:
    c = spec.codec
    if c == "libx264":
        return [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            str(spec.crf),
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(spec.gop),
            "-keyint_min",
            str(spec.gop),
            "-sc_threshold",
            "0",
            "-bf",
            str(spec.bframes),
        ]
    if c == "libx265":
        params = f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes={spec.bframes}:log-level=error"
        return [
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-crf",
            str(spec.crf),
            "-pix_fmt",
            "yuv420p",
            "-x265-params",
            params,
            "-tag:v",
            "hvc1",
        ]
    if c == "libvpx-vp9":
        return [
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "0",
            "-crf",
            "30",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-g",
            str(spec.gop),
            "-pix_fmt",
            "yuv420p",
        ]
    if c == "ffv1":  # lossless: the master of the video zoo (videopipe.testing.zoo)
        return ["-c:v", "ffv1", "-level", "3", "-g", str(spec.gop), "-pix_fmt", "yuv444p"]
    if c in ("mpeg4", "msmpeg4"):
        return ["-c:v", c, "-q:v", "3", "-g", str(spec.gop), "-bf", str(spec.bframes if c == "mpeg4" else 0)]
    raise ValueError(f"unsupported test codec {c!r}")


def make_video(spec: VideoSpec, *, cache_dir: Path | None = None) -> Path:
    """Render ``spec`` to a file (cached by its parameters) and return the path."""
    out_dir = cache_dir or video_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"gen-{spec.key()}.{spec.container}"
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size > 0:
            return path
        tmp = path.with_name(path.stem + ".tmp." + spec.container)
        cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y"]
        if spec.audio:
            cmd += [
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:duration={spec.frame_pts()[-1] + 1 / spec.fps:.3f}",
            ]
        # Frames arrive as raw RGB on stdin; for VFR we feed timestamps through setpts.
        cmd += [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{spec.width}x{spec.height}",
            "-r",
            str(spec.fps),
            "-i",
            "pipe:0",
        ]
        vin = "1:v" if spec.audio else "0:v"
        if spec.audio:  # audio is mapped first so that stream 0 is *not* the video stream
            cmd += ["-map", "0:a", "-c:a", "aac" if spec.container in ("mp4", "mkv") else "libvorbis"]
        filters = []
        if spec.vfr:
            # duration of frame N is ((N % 3) + 1) / fps -> pts(N) = (N + sum_{k<N} (k % 3)) / fps
            expr = "(N + 3*floor(N/3) + if(gte(mod(N,3),2),1,0))/(FRAME_RATE*TB)"
            filters.append(f"setpts='{expr}'")
        if filters:
            cmd += ["-filter_complex", f"[{vin}]{','.join(filters)}[v]", "-map", "[v]"]
        else:
            cmd += ["-map", vin]
        cmd += _encoder_args(spec)
        if spec.vfr:
            cmd += ["-fps_mode", "passthrough"]
        cmd += list(spec.extra_args)
        if spec.container == "mp4":
            cmd += ["-movflags", "+faststart"]
        cmd += [str(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in render_frames(spec):
                proc.stdin.write(frame.tobytes())
        except BrokenPipeError:
            pass
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg failed generating {path.name}: {err.strip()[-2000:]}")
        if spec.rotation:
            # ffmpeg 5.1 writes the display matrix only when remuxing (-c copy), not on encode
            rot = tmp.with_name(tmp.stem + ".rot." + spec.container)
            r = subprocess.run(
                [
                    ffmpeg_bin(),
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    "-i",
                    str(tmp),
                    "-map",
                    "0",
                    "-c",
                    "copy",
                    "-metadata:s:v:0",
                    f"rotate={spec.rotation}",
                    str(rot),
                ],
                capture_output=True,
                text=True,
            )
            tmp.unlink(missing_ok=True)
            if r.returncode != 0:
                rot.unlink(missing_ok=True)
                raise RuntimeError(f"ffmpeg failed rotating {path.name}: {r.stderr[-2000:]}")
            tmp = rot
        tmp.replace(path)
    return path


def scenes_video(
    cut_lengths: Sequence[int] = (40, 35, 50, 25),
    *,
    seed: int = 0,
    needle: tuple[int, str] | None = None,
    **spec_kwargs: object,
) -> VideoSpec:
    """A spec with scenes of the given lengths (frames). ``needle=(scene_index, color)`` turns
    one scene into a flat colour needle."""
    scenes = []
    for i, n in enumerate(cut_lengths):
        color = needle[1] if needle is not None and needle[0] == i else None
        scenes.append(Scene(num_frames=int(n), seed=seed * 1000 + i, color=color))
    return VideoSpec(scenes=tuple(scenes), **spec_kwargs)  # type: ignore[arg-type]


def needle_video(
    duration_s: float = 1200.0,
    *,
    events: int = 12,
    fps: float = 1.0,
    width: int = 224,
    height: int = 112,
    seed: int = 7,
) -> tuple[VideoSpec, list[tuple[float, float]]]:
    """A long, slowly drifting textured scene with ``events`` short inserts of new content
    (each a texture of its own, lasting 1 or 2 s alternately), spread over the video with a
    seeded jitter; no frame numbers drawn. The background drift restarts after each event (it
    shows content already seen). Returns the spec and each event's (first, last) frame time in
    seconds, for needle metrics (``videopipe.compressors.metrics.event_mask``)."""
    rng = np.random.default_rng(seed)
    total = int(round(duration_s * fps))
    lengths = [max(1, int(round((1 + i % 2) * fps))) for i in range(events)]
    gap = (total - sum(lengths)) / (events + 1)
    scenes: list[Scene] = []
    spans: list[tuple[float, float]] = []
    pos = 0
    for i, n in enumerate(lengths):
        start = int(round((i + 1) * gap + sum(lengths[:i]) + rng.uniform(-0.25, 0.25) * gap))
        scenes.append(Scene(num_frames=start - pos, seed=seed * 1000))
        scenes.append(Scene(num_frames=n, seed=seed * 1000 + 1 + i))
        spans.append((start / fps, (start + n - 1) / fps))
        pos = start + n
    scenes.append(Scene(num_frames=total - pos, seed=seed * 1000))
    spec = VideoSpec(scenes=tuple(scenes), width=width, height=height, fps=fps, number_frames=False, gop=30)
    return spec, spans


# ----------------------------------------------------------------------------------------
# Long videos for scaling tests / benchmarks
# ----------------------------------------------------------------------------------------
def make_long_video(
    duration_s: float,
    *,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    gop: int = 250,
    bframes: int = 0,
    preset: str = "ultrafast",
    repeat_of_s: float | None = None,
    cache_dir: Path | None = None,
    codec: str = "h264",
) -> Path:
    """A long H.264 video from ffmpeg's ``testsrc2`` (moving pattern + frame counter text),
    cached. A 60-minute 720p file takes a few minutes to generate on 2 cores, once.

    ``codec``: ``h264`` (libx264, ``preset``), or ``hevc`` (libx265 ultrafast), ``vp9``
    (libvpx-vp9 realtime, no hidden alt-ref frames) or ``av1`` (SVT-AV1 preset 12, low-delay
    prediction), each with ``gop``-frame groups of pictures and no scene-cut keyframes, in MP4.

    ``repeat_of_s``: encode only that many seconds (a whole number of GOPs) and repeat them by
    stream copy up to ``duration_s`` -- the same stream structure and decode cost per frame
    (timestamps continue; the picture restarts), generated ``duration_s / repeat_of_s`` times
    faster. Used for the 2-hour 1080p benchmark file."""
    out_dir = cache_dir or video_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    if codec not in _LONG_VIDEO_CODECS:
        raise ValueError(f"unknown codec {codec!r}; valid: {', '.join(_LONG_VIDEO_CODECS)}")
    rep = f"-rep{int(repeat_of_s)}" if repeat_of_s else ""
    enc = preset if codec == "h264" else codec
    name = f"long-{int(duration_s)}s-{width}x{height}-{fps}fps-g{gop}-bf{bframes}-{enc}{rep}.mp4"
    path = out_dir / name
    if repeat_of_s:
        return _repeat_video(
            make_long_video(
                repeat_of_s,
                width=width,
                height=height,
                fps=fps,
                gop=gop,
                bframes=bframes,
                preset=preset,
                cache_dir=out_dir,
                codec=codec,
            ),
            path,
            math.ceil(duration_s / repeat_of_s),
        )
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size > 0:
            return path
        tmp = path.with_name(path.stem + ".tmp.mp4")
        cmd = [
            ffmpeg_bin(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}:duration={duration_s}",
            *_long_video_encoder(codec, preset, gop, bframes),
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(tmp),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg failed generating {name}: {r.stderr[-2000:]}")
        tmp.replace(path)
    return path


_LONG_VIDEO_CODECS = ("h264", "hevc", "vp9", "av1")


def _long_video_encoder(codec: str, preset: str, gop: int, bframes: int) -> list[str]:
    """ffmpeg's encoder arguments of :func:`make_long_video` for ``codec``."""
    g = ["-g", str(gop), "-keyint_min", str(gop)]
    if codec == "hevc":
        x265 = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error"
        return ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", x265, "-tag:v", "hvc1"]
    if codec == "vp9":
        return ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1",
                "-lag-in-frames", "0", "-b:v", "4M", *g]  # fmt: skip
    if codec == "av1":
        return [
            "-c:v",
            "libsvtav1",
            "-preset",
            "12",
            "-svtav1-params",
            f"keyint={gop}:scd=0:pred-struct=1",
            *g,
        ]
    return ["-c:v", "libx264", "-preset", preset, *g, "-sc_threshold", "0", "-bf", str(bframes)]


def _repeat_video(piece: Path, path: Path, times: int) -> Path:
    """``piece`` played ``times`` times in a row, by stream copy (ffmpeg's concat demuxer)."""
    with FileLock(str(path) + ".lock"):
        if path.exists() and path.stat().st_size > 0:
            return path
        tmp = path.with_name(path.stem + ".tmp.mp4")
        listing = path.with_name(path.stem + ".concat.txt")
        listing.write_text("".join(f"file '{piece.resolve()}'\n" for _ in range(times)))
        cmd = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0"]
        cmd += ["-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(tmp)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        listing.unlink(missing_ok=True)
        if r.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg failed repeating {piece.name}: {r.stderr[-2000:]}")
        tmp.replace(path)
    return path
