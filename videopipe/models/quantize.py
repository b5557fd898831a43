"""``--quantize int8``: dynamic int8 for a loaded model's linear layers.

Every ``nn.Linear`` of the vision tower, the connector and the language model becomes a
dynamically quantized one (int8 weights, per output channel; activations quantized per batch
at run time), built with torch's own maintained eager-mode quantization
(``torch.ao.quantization.quantize_dynamic`` with ``per_channel_dynamic_qconfig``). The output
head (``lm_head``) stays in the run dtype, so the logits come from the same head, and so do
the linear layers torch marks as not dynamically quantizable (``nn.MultiheadAttention``'s
output projection, read as a weight by its owner: SigLIP's pooling head).

Why torch's own and not torchao: torchao 0.18's int8 paths measured slower on this CPU than
torch's fbgemm/oneDNN dynamic kernels (see docs/models.md). Those kernels take float32
activations, so in a bfloat16 model each quantized layer casts its input to float32 and its
output back (:class:`Int8Linear`); everything between the linear layers (attention, norms)
keeps the run dtype. Each layer is quantized from its own float32 copy, one at a time, so
quantizing never holds a float32 copy of the whole model.

Imported only when a model is quantized (it imports torch).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn
from torch.nn.modules.linear import NonDynamicallyQuantizableLinear

from videopipe.config import QUANTIZE_MODES
from videopipe.errors import ConfigError

__all__ = ["Int8Linear", "quantize_model"]

#: linear layers left in the run dtype (the output head)
_KEEP = ("lm_head",)


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


def _quantized(linear: nn.Linear) -> Int8Linear:
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


def quantize_model(model: Any, mode: str) -> int:
    """Quantize ``model`` (a transformers model on the CPU) in place; returns how many linear
    layers were replaced (0 for ``"none"``)."""
    if mode not in QUANTIZE_MODES:
        raise ConfigError(f"quantize (--quantize) {mode!r} is not one of {', '.join(QUANTIZE_MODES)}")
    if mode == "none":
        return 0
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ConfigError(
            f"quantize (--quantize) {mode} runs on the CPU only (torch's dynamic int8 kernels); "
            f"the model is on {device}: use --device cpu or --quantize none"
        )
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and not isinstance(module, NonDynamicallyQuantizableLinear)  # read as .weight by its owner
        and name.rsplit(".", 1)[-1] not in _KEEP
    ]
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _quantized(linear))
    return len(targets)
