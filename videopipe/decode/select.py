"""``open_video``: resolve the backend and device, then open the video with that backend.

``backend="auto"`` picks the best installed backend for the device (recorded in
``reader.info.backend``); an explicit backend is used as asked or fails with a clear error.
Nothing ever switches backend after an error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from videopipe.decode.probe import ProbeResult
from videopipe.decode.probe import probe as probe_video
from videopipe.devices import cuda_available, resolve_device  # re-exported: part of this module's API
from videopipe.errors import ConfigError, DeviceError, UnsupportedVideoError, library_errors_as_decode_errors
from videopipe.protocols import VideoReader
from videopipe.registry import DECODERS

__all__ = ["open_video", "resolve_device", "choose_backend", "cuda_available"]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# Preference order of CPU backends for backend="auto" (see docs/decoding.md for the measurements).
CPU_PREFERENCE = ("pyav", "torchcodec", "decord")
GPU_PREFERENCE = ("torchcodec", "decord")
_MODULES = {"pyav": "av", "torchcodec": "torchcodec", "decord": "decord"}


def choose_backend(device: str, probe: ProbeResult | None = None) -> str:
    """The backend ``auto`` uses on ``device`` (already resolved): the first installed one in
    the preference order that can decode there and, given ``probe``, does not refuse that file
    (a backend's ``refuses(probe)`` names files it is known to return wrong frames for)."""
    prefs = CPU_PREFERENCE if device == "cpu" else GPU_PREFERENCE
    for name in prefs:
        if name in DECODERS and _installed(_MODULES[name]):
            cls = DECODERS.get(name)
            if device != "cpu" and not cls.gpu_available():
                continue
            if probe is not None and cls.refuses(probe):
                continue
            return name
    where = "the CPU" if device == "cpu" else f"device {device!r}"
    raise DeviceError(
        f"no decoder backend can decode on {where}; install av (PyAV) for the CPU, or torchcodec "
        "with a CUDA build of torch for the GPU"
    )


def open_video(
    path: str | Path, *, backend: str = "auto", device: str = "auto", workers: int | None = None
) -> VideoReader:
    """Open ``path`` for frame-exact random access (see :mod:`videopipe.decode.reader`).

    ``workers``: decoding threads of the ``pyav`` backend (each with its own container of the
    file), 0/None for one per usable core; a request that is big enough is split among them.
    Other backends have their own threading: naming one of them with ``workers`` is an error,
    and ``backend="auto"`` passes ``workers`` only when it picks ``pyav``."""
    if workers is not None:
        from videopipe.decode.workers import check_workers

        check_workers(workers)
        if backend not in ("auto", "pyav"):
            raise ConfigError(
                f"workers={workers!r} is an option of the pyav backend, not of {backend!r}; "
                "use backend='pyav' (or 'auto'), or leave workers unset"
            )
    if backend != "auto":
        factory = DECODERS.get(backend)  # raises UnknownPluginError listing the valid names
        if isinstance(device, str) and device.startswith("cuda") and not factory.gpu_capable:
            raise DeviceError(
                f"the {backend} backend decodes on the CPU only, not device={device!r}; use device='cpu', "
                "or backend='torchcodec' for GPU decoding"
            )
    dev = resolve_device(device)
    info = probe_video(path)
    if backend == "auto" and device == "auto" and dev != "cpu":
        try:
            name = choose_backend(dev, info)
        except DeviceError:
            # no GPU backend decodes this file exactly: auto means the best that does, the CPU
            dev, name = "cpu", choose_backend("cpu", info)
    elif backend == "auto":
        name = choose_backend(dev, info)
    else:
        name = backend
        if device == "auto" and dev != "cpu":
            # an explicit backend with device="auto": its GPU path when it has one that works
            cls = DECODERS.get(name)
            if not cls.gpu_available():
                dev = "cpu"
    with library_errors_as_decode_errors(
        f"{info.path}: the {name} backend cannot open it", "check that it is a complete video file"
    ):
        return _open(name, backend, info, dev, workers)


def _open(name: str, backend: str, info: ProbeResult, dev: str, workers: int | None) -> VideoReader:
    factory = DECODERS.get(name)
    if backend == "auto" and name != "pyav":
        try:
            return factory(info.path, device=dev, probe=info)
        except UnsupportedVideoError:
            # the file needs what only the CPU reader does (sequential access, a damaged tail):
            # auto means the best backend that reads it exactly
            return DECODERS.get("pyav")(info.path, device="cpu", probe=info, workers=workers)
    if name == "pyav":
        return factory(info.path, device=dev, probe=info, workers=workers)
    return factory(info.path, device=dev, probe=info)
