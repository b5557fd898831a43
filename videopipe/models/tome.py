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
the full ``grid x grid`` patches, so the last layer hands on the *restored* grid: every merged
token's value copied back to each position it stands for. Its output thus has the shape of
the unmerged one, transformers' recording of hidden states (LLaVA-OneVision reads
``hidden_states[-1]``) records that grid, and the tokens the LLM receives are as many as
without merging, at the same grid positions. (The outputs of the layers before the last are
merged: a caller that reads an earlier layer's hidden states gets fewer tokens.)

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
    tokens:  tokens entering each layer in the last forward pass (for tests and benchmarks)
    """

    r: int
    sizes: torch.Tensor | None = None
    source: torch.Tensor | None = None
    tokens: list[int] = field(default_factory=list)

    def start(self, batch: int, n: int, device: torch.device) -> None:
        pos = torch.arange(n, device=device).expand(batch, n)
        self.sizes = torch.ones(batch, n, device=device)
        self.source, self.tokens = pos, []


class _ToMeLayer(nn.Module):
    """The forward of a SigLIP encoder layer with merging; mixed into a subclass of the
    layer's own class by :func:`_wrapped` (it uses ``layer_norm1``, ``self_attn``,
    ``layer_norm2``, ``mlp``, which SigLIP and SmolVLM's layers share)."""

    _tome: MergeState
    _tome_first: bool
    _tome_last: bool

    def forward(self, hidden_states: torch.Tensor, attention_mask: Any = None, **kwargs: Any) -> torch.Tensor:
        st = self._tome
        x = hidden_states
        if self._tome_first:
            st.start(x.shape[0], x.shape[1], x.device)
        _check_unpadded(attention_mask)
        assert st.sizes is not None and st.source is not None
        st.tokens.append(x.shape[1])
        r = min(st.r, x.shape[1] // 2)
        attn, keys = self._attention(self.layer_norm1(x), st.sizes, metric=r > 0)
        x = x + attn
        if keys is not None:
            x = _merge(x, keys, st, r)
        x = x + self.mlp(self.layer_norm2(x))
        if self._tome_last and x.shape[1] != st.source.shape[1]:
            x = _take(x, st.source)  # the grid the connector expects
        return x

    def _attention(
        self, h: torch.Tensor, sizes: torch.Tensor, *, metric: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention with the size bias, and (``metric``) the keys summed over the heads
        (float32 [B, N, head_dim]; a sum, as only their direction is used)."""
        a = self.self_attn
        batch, n, _ = h.shape
        shape = (batch, n, a.num_heads, a.head_dim)
        k = a.k_proj(h).view(shape)
        q, v = (p(h).view(shape).transpose(1, 2) for p in (a.q_proj, a.v_proj))
        bias = None if bool((sizes == 1).all()) else sizes.log()[:, None, None, :].to(q.dtype)
        out = F.scaled_dot_product_attention(q, k.transpose(1, 2), v, attn_mask=bias, scale=a.scale)
        keys = k.sum(2).float() if metric else None
        return a.out_proj(out.transpose(1, 2).reshape(batch, n, -1)), keys


def _take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[b, idx[b]]`` for every batch row: [B, M, D] (whole rows copied with
    ``index_select``; ``gather`` with an expanded index is several times slower on the CPU)."""
    batch, n, dim = x.shape
    rows = (idx + torch.arange(batch, device=idx.device).unsqueeze(1) * n).reshape(-1)
    return x.reshape(batch * n, dim).index_select(0, rows).view(batch, -1, dim)


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
    assert st.sizes is not None and st.source is not None
    batch, n, dim = x.shape
    metric = keys / keys.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    a, b = metric[:, ::2], metric[:, 1::2]
    best, match = (a @ b.transpose(-1, -2)).max(dim=-1)  # each A token's closest B token
    order = best.argsort(dim=-1, descending=True)
    merged, kept = order[:, :r], order[:, r:]  # A tokens merged away / kept
    target = match.gather(1, merged)  # their B tokens
    n_b, n_kept = b.shape[1], order.shape[1] - r
    # kept A tokens first, then the B tokens; only the B tokens that receive merges change:
    # the size-weighted mean of the B token and of every A token merged into it (float32),
    # summed per B token through a [r, r] "same target" matrix, so no scatter-add is needed
    sa, sb = st.sizes[:, ::2], st.sizes[:, 1::2]
    s_moved, s_target = sa.gather(1, merged), sb.gather(1, target)
    same = (target.unsqueeze(2) == target.unsqueeze(1)).float()  # [B, r, r]
    w_moved = _take(x, 2 * merged).float() * s_moved.unsqueeze(-1)
    size = s_target + (same @ s_moved.unsqueeze(-1)).squeeze(-1)
    value = (_take(x, 2 * target + 1).float() * s_target.unsqueeze(-1) + same @ w_moved) / size.unsqueeze(-1)
    out = torch.empty(batch, n - r, dim, dtype=x.dtype, device=x.device)
    out[:, :n_kept] = _take(x, 2 * kept)
    out[:, n_kept:] = x[:, 1::2]
    rows = (n_kept + target + torch.arange(batch, device=x.device).unsqueeze(1) * (n - r)).reshape(-1)
    out.view(-1, dim)[rows] = value.reshape(-1, dim).to(x.dtype)  # equal values for equal rows
    sizes = torch.cat([sa.gather(1, kept), sb], dim=1)
    sizes[:, n_kept:] = sizes[:, n_kept:].scatter(1, target, size)
    # where each current token went, then where each patch position's token went
    new = torch.empty(batch, n, dtype=torch.long, device=x.device)
    new[:, 1::2] = n_kept + torch.arange(n_b, device=x.device)
    new.scatter_(1, 2 * kept, torch.arange(n_kept, device=x.device).expand(batch, -1))
    new.scatter_(1, 2 * merged, n_kept + target)
    st.source = new.gather(1, st.source)
    st.sizes = sizes
    return out


_CLASSES: dict[type, type] = {}


def _wrapped(layer: nn.Module, state: MergeState, *, first: bool, last: bool) -> nn.Module:
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
    block._tome_last = last
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
        layers[i] = _wrapped(layer, state, first=i == 0, last=i == len(layers) - 1)
    return state


def merge_state(model: Any) -> MergeState | None:
    """The :class:`MergeState` of ``model``'s vision tower, None when it does not merge."""
    if getattr(model.config, "model_type", None) not in MERGE_FAMILIES:
        return None
    first = _layers(model)[0]
    return first._tome if isinstance(first, _ToMeLayer) else None
