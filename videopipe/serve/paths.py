"""Which files and URLs a request may name.

A video reference is a ``file://`` URL, a plain path (absolute, or relative to an allowed
folder) or, only with ``--allow-remote``, an ``http(s)://`` URL. Local references are
resolved (symlinks followed, ``..`` collapsed) *before* anything looks at the file, and the
resolved path must lie inside one of the ``--allow-dir`` folders: a ``..``, an absolute path
elsewhere or a symlink that points out is refused with 403 whether or not the target exists
(so the answer does not tell what exists outside). Hidden files and files in hidden folders
(a name starting with ``.``, below the allowed folder, after resolving) are refused the same
way and never listed; the raw file route serves only what the listing shows (a video by its
extension, :data:`VIDEO_EXTENSIONS`). A path the OS refuses to look up (too long, ...) is a
400. Nothing is opened here: the policy only resolves names and stats the result. With no
allowed folder, no file is served.

Remote videos are fetched by ``remote.py`` (its address rules, redirects and limits).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from videopipe.serve.errors import ApiError

__all__ = ["PathPolicy", "VideoRef", "VIDEO_EXTENSIONS"]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")
_PATH_MAX = 4096  # Linux's PATH_MAX, in bytes


def _shown(path: str, limit: int = 120) -> str:
    """``path`` as an error message quotes it: at most ``limit`` characters."""
    return path if len(path) <= limit else f"{path[: limit // 2]}...{path[-limit // 2 :]}"


@dataclass(frozen=True)
class VideoRef:
    """A checked reference: a local ``path`` inside an allowed folder, or a remote ``url``
    (only when remote fetching is on) that :class:`~videopipe.serve.remote.RemoteFetcher` downloads."""

    path: Path | None = None
    url: str | None = None


class PathPolicy:
    """See the module docstring. ``allow_dirs`` must be resolved directories."""

    def __init__(
        self,
        allow_dirs: Sequence[Path],
        *,
        allow_remote: bool = False,
    ) -> None:
        self.allow_dirs = tuple(Path(d) for d in allow_dirs)
        self.allow_remote = allow_remote

    # -- references ------------------------------------------------------------------------------
    def check(self, ref: object, *, param: str = "video") -> VideoRef:
        """The checked form of ``ref`` (a URL or path string), or an :class:`ApiError`."""
        if not isinstance(ref, str) or not ref.strip():
            raise ApiError(400, "give the video as a file:// URL or a path", param=param)
        ref = ref.strip()
        if "\0" in ref:
            raise ApiError(400, "the video reference contains a NUL character", param=param)
        parts = urlsplit(ref)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not self.allow_remote:
                raise ApiError(
                    403,
                    "remote video URLs are off on this server (start it with --allow-remote to fetch them)",
                    param=param,
                    code="remote_not_allowed",
                )
            if not parts.hostname:
                raise ApiError(400, "the video URL has no host", param=param)
            return VideoRef(url=ref)
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ApiError(400, "file:// URLs must name a local file (file:///path)", param=param)
            return VideoRef(path=self.local(unquote(parts.path), param=param))
        if scheme and len(scheme) > 1:  # not a Windows drive letter
            raise ApiError(
                400,
                f"unsupported video URL scheme {scheme!r}; use file://, a path or http(s)://",
                param=param,
            )
        return VideoRef(path=self.local(ref, param=param))

    def local(self, path: str, *, param: str = "video") -> Path:
        """The resolved path of ``path`` if it lies inside an allowed folder, is not hidden
        there, and is a file."""
        if not self.allow_dirs:
            raise ApiError(
                403,
                "this server serves no files (start it with --allow-dir DIR to allow a folder)",
                param=param,
                code="path_not_allowed",
            )
        try:
            return self._local(path, param)
        except OSError as e:  # a name too long, ... (a symlink loop is refused as outside)
            raise ApiError(
                400,
                f"{_shown(path)}: the path cannot be looked up ({e.strerror or type(e).__name__})",
                param=param,
                code="invalid_path",
            ) from None

    def _local(self, path: str, param: str) -> Path:
        if len(os.fsencode(path)) >= _PATH_MAX:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        p = Path(os.path.expanduser(path)) if path.startswith("~") else Path(path)
        candidates = [p] if p.is_absolute() else [d / p for d in self.allow_dirs]
        allowed = []
        for c in candidates:
            try:
                real = c.resolve(strict=False)
            except RuntimeError:  # a symlink loop
                continue
            if self.allows(real):
                allowed.append(real)
        if not allowed:
            raise ApiError(
                403,
                f"{_shown(path)} is outside the folders this server may read (--allow-dir)",
                param=param,
                code="path_not_allowed",
            )
        visible = [real for real in allowed if not self.hidden(real)]
        if not visible:
            raise ApiError(
                403,
                f"{_shown(path)} is hidden (a name starting with '.'); hidden files are not served",
                param=param,
                code="path_not_allowed",
            )
        for real in visible:
            if real.is_file():
                return real
        raise ApiError(404, f"{_shown(path)}: no such video file", param=param, code="video_not_found")

    def allows(self, real: Path) -> bool:
        """``real`` (a resolved path) lies inside an allowed folder."""
        return any(real == d or real.is_relative_to(d) for d in self.allow_dirs)

    def hidden(self, real: Path) -> bool:
        """``real`` (a resolved path inside an allowed folder) is, or is inside, a dot-file or
        dot-folder below every allowed folder that holds it."""
        holders = [d for d in self.allow_dirs if real == d or real.is_relative_to(d)]
        return all(any(part.startswith(".") for part in real.relative_to(d).parts) for d in holders)

    def listed(self, real: Path) -> bool:
        """``real`` (a resolved path) is what the listing shows: a visible video file inside."""
        return (
            real.name.lower().endswith(VIDEO_EXTENSIONS)
            and self.allows(real)
            and not self.hidden(real)
            and real.is_file()
        )

    def video_file(self, ref: object, *, param: str = "video") -> Path:
        """The local file ``ref`` names if the listing shows it (what ``/v1/videos/file`` serves)."""
        path = self.check(ref, param=param).path
        if path is None:
            raise ApiError(400, "only local videos are served", param=param)
        if not self.listed(path):
            raise ApiError(
                403,
                f"{_shown(str(ref))} is not a video file (by its extension); only the videos "
                "GET /v1/videos lists are served",
                param=param,
                code="path_not_allowed",
            )
        return path

    def list_videos(self, limit: int = 1000) -> list[dict[str, str]]:
        """The video files under the allowed folders (hidden ones, and symlinks that leave them or
        point at hidden or non-video files, are skipped):
        ``[{"path": absolute, "name": relative to its folder}]``, sorted, at most ``limit``."""
        found: list[dict[str, str]] = []
        for d in self.allow_dirs:
            for root, dirs, files in os.walk(d):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or not name.lower().endswith(VIDEO_EXTENSIONS):
                        continue
                    try:
                        real = Path(root, name).resolve()
                        if not self.listed(real):
                            continue
                    except (OSError, RuntimeError):
                        continue
                    found.append({"path": str(real), "name": str(Path(root, name).relative_to(d))})
                    if len(found) >= limit:
                        return found
        return found
