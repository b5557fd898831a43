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
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    fp32 = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        fp32.weight.copy_(linear.weight.float())
        if linear.bias is not None:
            fp32.bias.copy_(linear.bias.float())
    holder = nn.Sequential(fp32)
    with warnings.catch_warnings():  # torch marks the eager API deprecated; it is what ships
        warnings.simplefilter("ignore")
        quantize_dynamic(holder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)
    return Int8Linear(holder[0])


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
