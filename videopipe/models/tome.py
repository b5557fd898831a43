"""``--vision-merge R``: token merging (ToMe) inside a SigLIP vision tower.

Bolya et al., "Token Merging: Your ViT But Faster" (ICLR 2023), implemented from the paper's
description. In every encoder layer, between the attention and the MLP, ``r`` tokens are
merged into others by *bipartite soft matching*: the tokens are split alternately into two
sets A and B; each token of A is joined to its most similar token of B (cosine similarity of
the attention keys, averaged over the heads); the ``r`` most similar pairs are merged (a
size-weighted average of the features; sizes add) and the rest are kept. So the MLP of that
layer and every later layer run on fewer tokens. Attention is *proportional*: each key's
logit gets ``+ log(size)``, so a merged token weighs as the tokens it stands for.

The connector (SmolVLM2's pixel shuffle, LLaVA-OneVision's projector and 2x2 pooling) expects
the full ``grid x grid`` patches, so each wrapped layer hands on the *restored* grid: every
merged token's value copied back to each position it stands for. The next layer takes one
representative position per merged token back (the copies are equal, so this is exact). Thus
every layer's output has the shape of the unmerged one, transformers' recording of hidden
states (LLaVA-OneVision reads ``hidden_states[-1]``) sees the grid it expects, and the
tokens the LLM receives are as many as without merging, at the same grid positions.

Applies to the SigLIP towers (SmolVLM2, LLaVA-OneVision; :data:`MERGE_FAMILIES`). Qwen's
towers merge 2x2 patches in windowed attention over a packed sequence; ToMe is refused there.

How the layers are wrapped: each encoder layer is replaced by an instance of a subclass of
its own class (made once per layer class, as FSDP2 does for its wrappers) that shares the
layer's submodules and overrides ``forward``. transformers itself is not changed, and its
output recording, which hooks modules by their layer class, still finds the layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from videopipe.errors import ConfigError, ModelError

__all__ = ["MERGE_FAMILIES", "MergeState", "check_vision_merge", "merge_state", "merge_vision_tokens"]

#: model_type -> where the vision tower's encoder layers sit in the transformers model
MERGE_FAMILIES: dict[str, str] = {
    "smolvlm": "model.vision_model.encoder.layers",
    "llava_onevision": "model.vision_tower.encoder.layers",
}


def check_vision_merge(model_type: str | None, r: int, *, model_id: str = "") -> None:
    """A one-line ConfigError unless ``r`` tokens per layer can be merged in the vision tower of
    a ``model_type`` checkpoint (``r`` 0 is always fine: merging off)."""
    if r < 0:
        raise ConfigError(f"vision_merge (--vision-merge) must be >= 0 (0: off), got {r}")
    if r and model_type not in MERGE_FAMILIES:
        what = f"{model_id} ({model_type})" if model_id else str(model_type)
        raise ConfigError(
            f"--vision-merge {r}: {what} has no SigLIP vision tower to merge tokens in; token merging "
            f"applies to {', '.join(MERGE_FAMILIES)} checkpoints (use --vision-merge 0)"
        )


@dataclass
class MergeState:
    """What the wrapped layers of one tower share during one forward pass.

    r:       tokens merged per layer (fewer when a layer has fewer than ``2 r`` tokens)
    sizes:   [B, N] how many patches each current token stands for
    source:  [B, N0] the current token of each patch position
    rep:     [B, N] one patch position of each current token
    tokens:  tokens entering each layer in the last forward pass (for tests and benchmarks)
    """

    r: int
    sizes: torch.Tensor | None = None
    source: torch.Tensor | None = None
    rep: torch.Tensor | None = None
    tokens: list[int] = field(default_factory=list)

    def start(self, batch: int, n: int, device: torch.device) -> None:
        pos = torch.arange(n, device=device).expand(batch, n)
        self.sizes = torch.ones(batch, n, device=device)
        self.source, self.rep, self.tokens = pos, pos, []


class _ToMeLayer(nn.Module):
    """The forward of a SigLIP encoder layer with merging; mixed into a subclass of the
    layer's own class by :func:`_wrapped` (it uses ``layer_norm1``, ``self_attn``,
    ``layer_norm2``, ``mlp``, which SigLIP and SmolVLM's layers share)."""

    _tome: MergeState
    _tome_first: bool

    def forward(self, hidden_states: torch.Tensor, attention_mask: Any = None, **kwargs: Any) -> torch.Tensor:
        st = self._tome
        batch, n0, dim = hidden_states.shape
        if self._tome_first:
            st.start(batch, n0, hidden_states.device)
        _check_unpadded(attention_mask)
        assert st.rep is not None and st.sizes is not None and st.source is not None
        x = hidden_states if st.rep.shape[1] == n0 else _take(hidden_states, st.rep)
        st.tokens.append(x.shape[1])
        attn, keys = self._attention(self.layer_norm1(x), st.sizes)
        x = x + attn
        r = min(st.r, x.shape[1] // 2)
        if r > 0:
            x = _merge(x, keys, st, r)
        x = x + self.mlp(self.layer_norm2(x))
        return x if x.shape[1] == n0 else _take(x, st.source)

    def _attention(self, h: torch.Tensor, sizes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention with the size bias; also returns the keys averaged over the heads."""
        a = self.self_attn
        batch, n, _ = h.shape
        q, k, v = (
            p(h).view(batch, n, a.num_heads, a.head_dim).transpose(1, 2)
            for p in (a.q_proj, a.k_proj, a.v_proj)
        )
        bias = None if bool((sizes == 1).all()) else sizes.log()[:, None, None, :].to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=a.scale)
        return a.out_proj(out.transpose(1, 2).reshape(batch, n, -1)), k.mean(1)


def _take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[b, idx[b]]`` for every batch row: [B, M, D]."""
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _check_unpadded(mask: Any) -> None:
    if mask is None:
        return
    visible = bool(mask.all()) if mask.dtype == torch.bool else bool((mask == 0).all())
    if not visible:
        raise ModelError(
            "--vision-merge needs frames without padded patches (the vision tower got a padding mask); "
            "use --vision-merge 0 for this input"
        )


def _merge(x: torch.Tensor, keys: torch.Tensor, st: MergeState, r: int) -> torch.Tensor:
    """Bipartite soft matching: merge ``r`` tokens of ``x`` [B, N, D] (updates ``st``)."""
    assert st.sizes is not None and st.source is not None and st.rep is not None
    batch, n, dim = x.shape
    metric = keys / keys.norm(dim=-1, keepdim=True)
    a, b = metric[:, ::2], metric[:, 1::2]
    best, match = (a @ b.transpose(-1, -2)).max(dim=-1)  # each A token's closest B token
    order = best.argsort(dim=-1, descending=True)
    merged, kept = order[:, :r], order[:, r:]  # A tokens merged away / kept
    target = match.gather(1, merged)  # their B tokens
    n_a, n_kept = a.shape[1], order.shape[1] - r
    # size-weighted sums in float32; kept A tokens first, then the B tokens
    s = st.sizes
    w = x.float() * s.unsqueeze(-1)
    wa, wb, sa, sb = w[:, ::2], w[:, 1::2], s[:, ::2], s[:, 1::2]
    wb = wb.scatter_add(1, target.unsqueeze(-1).expand(-1, -1, dim), _take(wa, merged))
    sb = sb.scatter_add(1, target, sa.gather(1, merged))
    sizes = torch.cat([sa.gather(1, kept), sb], dim=1)
    out = torch.cat([_take(wa, kept), wb], dim=1) / sizes.unsqueeze(-1)
    # where each current token went, then where each patch position's token went
    new = torch.empty(batch, n, dtype=torch.long, device=x.device)
    new[:, 1::2] = n_kept + torch.arange(n - n_a, device=x.device)
    new.scatter_(1, 2 * kept, torch.arange(n_kept, device=x.device).expand(batch, -1))
    new.scatter_(1, 2 * merged, n_kept + target)
    st.source = new.gather(1, st.source)
    st.rep = torch.cat([st.rep[:, ::2].gather(1, kept), st.rep[:, 1::2]], dim=1)
    st.sizes = sizes
    return out.to(x.dtype)


_CLASSES: dict[type, type] = {}


def _wrapped(layer: nn.Module, state: MergeState, *, first: bool) -> nn.Module:
    base = type(layer)
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type(f"ToMe{base.__name__}", (_ToMeLayer, base), {"__module__": __name__})
        _CLASSES[base] = cls
    block = cls.__new__(cls)
    nn.Module.__init__(block)
    for name, child in layer.named_children():
        block.add_module(name, child)
    block.training = layer.training
    block._tome = state
    block._tome_first = first
    return block


def _layers(model: Any) -> nn.ModuleList:
    model_type = getattr(model.config, "model_type", None)
    check_vision_merge(model_type, 1, model_id=str(getattr(model, "name_or_path", "")))
    return model.get_submodule(MERGE_FAMILIES[model_type])


def merge_vision_tokens(model: Any, r: int) -> MergeState | None:
    """Merge ``r`` tokens per layer in the vision tower of ``model`` (a transformers SmolVLM2 or
    LLaVA-OneVision model), in place; returns the tower's :class:`MergeState` (None for ``r``
    0, which leaves the model untouched)."""
    check_vision_merge(getattr(model.config, "model_type", None), r)
    if r == 0:
        return None
    layers = _layers(model)
    if any(isinstance(layer, _ToMeLayer) for layer in layers):
        raise ModelError("the vision tower already merges tokens (merge_vision_tokens was applied before)")
    state = MergeState(r=int(r))
    for i, layer in enumerate(layers):
        layers[i] = _wrapped(layer, state, first=i == 0)
    return state


def merge_state(model: Any) -> MergeState | None:
    """The :class:`MergeState` of ``model``'s vision tower, None when it does not merge."""
    if getattr(model.config, "model_type", None) not in MERGE_FAMILIES:
        return None
    first = _layers(model)[0]
    return first._tome if isinstance(first, _ToMeLayer) else None
