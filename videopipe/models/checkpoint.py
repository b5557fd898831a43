"""A transformers checkpoint's files: hub access, config, processor, weights, device and dtype.

What an adapter needs to load itself (``models/base.py`` uses it); it knows no adapter and no
registry, so the family check and the list of supported families live one level up, in
``models/loading.py``. Device "auto" is the first CUDA GPU when there is one, else the CPU;
dtype "auto" is bfloat16 on CUDA (float16 where bf16 is unsupported) and on a CPU that computes
bf16 natively (AVX512-BF16 / AMX / Arm BF16), float32 on other CPUs.
Attention is sdpa (on the CPU ``models/attention.py``'s: sdpa with a faster grouped-query
decoding step), or flash-attention 2 on CUDA when ``flash_attn`` is installed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videopipe.errors import DeviceError, ModelError
from videopipe.fingerprint import FileMemo

if TYPE_CHECKING:
    import torch

__all__ = [
    "HUB_CHECK_TIMEOUT_S",
    "check_hub_access",
    "load_processor",
    "load_weights",
    "no_progress_bars",
    "read_config",
    "resolve_device",
    "resolve_dtype",
]

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for a model (see :func:`videopipe.devices.resolve_device`), with the
    GPU index checked against the GPUs torch sees."""
    import torch

    from videopipe.devices import resolve_device as resolve

    d = torch.device(resolve(device, purpose="running the model on a GPU"))
    if d.type == "cuda" and d.index is not None and d.index >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r}: only {torch.cuda.device_count()} GPU(s) visible")
    return d


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    import torch

    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        from videopipe.devices import cpu_bf16_native

        return torch.bfloat16 if cpu_bf16_native() else torch.float32
    if dtype not in _DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; use 'auto', 'float32', 'bfloat16' or 'float16'")
    return getattr(torch, _DTYPES[dtype])


def _attn_implementation(device: torch.device, *, allow_flash: bool = True) -> str:
    if device.type == "cuda" and allow_flash:
        try:
            import flash_attn  # noqa: F401

            return "flash_attention_2"
        except ImportError:
            pass
    if device.type == "cpu":  # sdpa, with a faster decoding step for grouped-query attention
        from videopipe.models.attention import register_cpu_attention

        return register_cpu_attention()
    return "sdpa"


def _not_loadable(model_id: str, err: BaseException) -> ModelError:
    from videopipe.settings import hub_offline

    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
    if Path(model_id).expanduser().exists():
        return ModelError(
            f"{model_id} is not a loadable transformers checkpoint ({first}); it needs config.json, "
            "the weights and the processor files (save_pretrained writes them all)"
        )
    why = (
        "HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set"
        if hub_offline()
        else "the hub could not be reached or has no such model"
    )
    return ModelError(
        f"model {model_id!r} is not a local directory, not in the Hugging Face cache, and {why} "
        f"({first}). Download it where there is network (`hf download {model_id} --local-dir DIR`) "
        "and pass the directory instead (--model DIR / load_model('DIR')), or check the id"
    )


def _hub_errors() -> tuple[type[BaseException], ...]:
    errs: list[type[BaseException]] = [OSError]
    try:
        from huggingface_hub.errors import HfHubHTTPError, HFValidationError

        errs += [HfHubHTTPError, HFValidationError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


#: seconds the one look at the hub for a model that is not cached may take (a refused
#: connection or an unknown host answers at once; this bounds a network that drops packets)
HUB_CHECK_TIMEOUT_S = 5.0


def _network_errors() -> tuple[type[BaseException], ...]:
    """What the hub client raises when the host cannot be reached (httpx2 in huggingface_hub
    2.x, httpx in 1.x)."""
    errs: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, "TransportError"):
            errs.append(mod.TransportError)
    return tuple(errs)


def check_hub_access(model_id: str) -> None:
    """Fail at once, with one clear error, when ``model_id`` is neither a local directory nor
    in the Hugging Face cache and the hub cannot serve it (offline, unreachable, no such
    repository). Otherwise huggingface_hub retries an unreachable host for about 25 s, a log
    line per try, before transformers gives up. A cached model makes no network request here;
    one that is not cached costs one HEAD request (at most HUB_CHECK_TIMEOUT_S, no retries)."""
    from videopipe.settings import hub_offline

    if Path(model_id).expanduser().exists():
        return
    if model_id.startswith(("/", "./", "../", "~")) or model_id.count("/") > 1:
        raise ModelError(
            f"{model_id}: no such model directory (and not a hub id like 'org/name'); check the path"
        )
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, HFValidationError

    try:
        cached = try_to_load_from_cache(model_id, "config.json")
    except HFValidationError as e:
        raise ModelError(f"{model_id!r} is neither a model directory nor a valid hub id ({e})") from None
    if isinstance(cached, str):
        return
    fetch = (
        f"download it where there is network (`hf download {model_id} --local-dir DIR`) and pass "
        "the directory (--model DIR / load_model('DIR'))"
    )
    if hub_offline():
        raise ModelError(
            f"model {model_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE "
            f"is set, so the hub is not asked: {fetch}, or unset HF_HUB_OFFLINE to download it"
        )
    try:
        get_hf_file_metadata(hf_hub_url(model_id, "config.json"), timeout=HUB_CHECK_TIMEOUT_S)
    except GatedRepoError:
        raise ModelError(
            f"model {model_id!r} is gated on the hub: accept its terms on its hub page, then "
            "`hf auth login` (or set HF_TOKEN), or pass a local directory"
        ) from None
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        raise ModelError(
            f"model {model_id!r} is not in the Hugging Face cache and the hub ({constants.ENDPOINT}) "
            f"does not serve its config.json (HTTP {status}): check the id (private models need "
            "`hf auth login`), or pass a local directory"
        ) from None
    except _network_errors() as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelError(
            f"model {model_id!r} is not in the Hugging Face cache and the hub ({constants.ENDPOINT}) "
            f"cannot be reached ({first}): connect to the network, or {fetch}"
        ) from None


def _files_key(model_id: str) -> tuple[Any, ...]:
    """What identifies the files of ``model_id``: the id, and for a local directory the size
    and modification time of its JSON files (a checkpoint rewritten in place is read again;
    :meth:`FileMemo.key` stats one file, a checkpoint is a directory)."""
    local = Path(model_id).expanduser()
    if not local.is_dir():
        return (model_id,)
    stats = []
    for p in sorted(local.glob("*.json")):
        st = p.stat()
        stats.append((p.name, st.st_size, st.st_mtime_ns))
    return (str(local.resolve()), *stats)


# One process reads a checkpoint's config and processor once: the pipeline reads the model's
# facts (config + processor) before decoding and the adapter needs both again when it loads
# the weights; a real tokenizer takes a few hundred ms to parse. Treated as read-only.
_CONFIGS = FileMemo()
_PROCESSORS = FileMemo()


def read_config(model_id: str, *, unknown_type_hint: str = "") -> Any:
    """The checkpoint's transformers config (no weights; read once per process).
    ``unknown_type_hint`` ends the error for a model_type transformers does not know (e.g. the
    supported families)."""
    return _CONFIGS.cached(_files_key(model_id), lambda: _read_config(model_id, unknown_type_hint))


def _read_config(model_id: str, unknown_type_hint: str) -> Any:
    local = Path(model_id).expanduser()
    if local.is_dir() and not (local / "config.json").is_file():
        raise ModelError(
            f"{model_id} is not a loadable transformers checkpoint: it has no config.json "
            "(save_pretrained writes config.json, the weights and the processor files)"
        )
    check_hub_access(model_id)
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_id)
    except _hub_errors() as e:
        raise _not_loadable(model_id, e) from None
    except ValueError as e:  # an unknown model_type
        hint = f"; {unknown_type_hint}" if unknown_type_hint else ""
        raise ModelError(f"{model_id}: {str(e).splitlines()[0]}{hint}") from None


def load_weights(model_id: str, *, device: str, dtype: str, allow_flash: bool = True) -> Any:
    """The model of ``model_id`` on ``device`` in ``dtype``, in eval mode.

    ``allow_flash=False`` keeps sdpa even when flash-attn is installed (see
    ``TransformersVideoLLM.flash_attention_ok``)."""
    from transformers import AutoModelForImageTextToText

    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    kw: dict[str, Any] = {
        "dtype": dt,
        "attn_implementation": _attn_implementation(dev, allow_flash=allow_flash),
    }
    if dev.type == "cuda" and importlib.util.find_spec("accelerate") is not None:
        kw["device_map"] = str(dev)  # load straight into GPU memory (no CPU copy of the weights)
    with _loading(model_id), no_progress_bars():
        try:
            model = AutoModelForImageTextToText.from_pretrained(model_id, **kw)
        except _damaged_weights_errors() as e:
            raise ModelError(
                f"{model_id}: its weights do not load ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "the checkpoint may be incomplete or damaged -- download or save it again"
            ) from None
    return model.to(dev).eval()


def _damaged_weights_errors() -> tuple[type[BaseException], ...]:
    """What reading a truncated or corrupt weights file raises (safetensors, torch.load)."""
    errors: list[type[BaseException]] = [EOFError]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:  # pragma: no cover - transformers needs safetensors
        pass
    import pickle

    errors.append(pickle.UnpicklingError)
    return tuple(errors)


def load_processor(model_id: str) -> Any:
    """The checkpoint's processor (tokenizer, image/video processors; no weights), loaded
    once per process (the same object for the facts and the adapter; treat it as read-only)."""
    return _PROCESSORS.cached(_files_key(model_id), lambda: _read_processor(model_id))


def _read_processor(model_id: str) -> Any:
    from transformers import AutoProcessor

    with _loading(model_id):
        return AutoProcessor.from_pretrained(model_id)


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """transformers' own progress bars off for the block (its "Loading weights" bar writes
    one stderr update per tensor: 657 for a 2.2B model), restored after it as they were."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


@contextmanager
def _loading(model_id: str) -> Iterator[None]:
    """Hub and missing-package errors while loading ``model_id`` as videopipe errors."""
    try:
        yield
    except _hub_errors() as e:
        raise _not_loadable(model_id, e) from None
    except ImportError as e:
        from videopipe.errors import MissingDependencyError

        raise MissingDependencyError(f"loading {model_id} needs a missing package: {e}") from None
