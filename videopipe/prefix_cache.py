"""Prefix caching: the language model's KV cache of an earlier prompt (and its answer), kept
in memory so that a later prompt that starts the same way prefills only what is new.

A conversation's follow-up repeats everything before it (the system message, the video's
visual tokens, the earlier turns and answers) and adds a question; so does a second question
about the same video (up to the question). :class:`PrefixCache` keeps the KV caches of the
last few prompts+answers within a byte budget (least recently used out first); the model
(``VideoLLM.reuses_prefix``) looks up the longest stored prefix of its next prompt, prefills
the rest after a copy of it (the stored entry is never changed) and stores the result.

A prefix matches row by row on exactly what the language model read (:class:`PromptRows`):
the token id, its position ids (all three M-RoPE axes for Qwen), whether it is a visual row
and, for visual rows, the spliced features themselves (and any per-row extras such as
Qwen3-VL's deepstack features). So the key is the content, not a name: a video's tokens
after another compression, a changed system message or another model's tokens simply match
less. The server owns one cache per loaded model (``videopipe serve --kv-cache-mb``).

No torch import at module level (the tensors arrive from the model).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["KVShape", "PrefixCache", "PrefixEntry", "PromptRows"]


@dataclass(frozen=True)
class KVShape:
    """The keys and values a language model keeps per layer: ``[1, heads, rows, head_dim]``
    in ``dtype`` (its name, e.g. ``bfloat16``), ``layers`` of them (what a KV cache read from
    a file must be: ``videopipe.prefix_store``)."""

    layers: int
    heads: int
    head_dim: int
    dtype: str


@dataclass(frozen=True)
class PromptRows:
    """What identifies every row of a sequence the language model read, in order.

    ids:         [L] token ids (the visual placeholder id at visual rows)
    positions:   [P, L] position ids (P=3 for M-RoPE, else 1)
    visual:      [L] bool, True at the rows whose input is a visual token
    visual_rows: [V, X] the inputs of the visual rows, in order (V = visual.sum())
    """

    ids: torch.Tensor
    positions: torch.Tensor
    visual: torch.Tensor
    visual_rows: torch.Tensor

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(int(t.numel() * t.element_size()) for t in vars(self).values())

    def common_prefix(self, other: PromptRows) -> int:
        """How many leading rows ``self`` and ``other`` share exactly."""
        n = min(len(self), len(other))
        if n == 0 or self.positions.shape[0] != other.positions.shape[0]:
            return 0
        same = (self.ids[:n] == other.ids[:n]) & (self.visual[:n] == other.visual[:n])
        same &= (self.positions[:, :n] == other.positions[:, :n]).all(0)
        differ = (~same).nonzero()
        k = int(differ[0]) if len(differ) else n
        m = int(self.visual[:k].sum())  # visual rows inside the prefix (the same rows in both)
        if m == 0:
            return k
        a, b = self.visual_rows[:m], other.visual_rows[:m]
        if a.shape[1:] != b.shape[1:] or a.dtype != b.dtype:
            return int(self.visual.nonzero()[0])
        bad = (a != b).any(-1).nonzero()
        return k if not len(bad) else int(self.visual.nonzero()[int(bad[0])])


@dataclass(frozen=True)
class PrefixEntry:
    """A stored KV cache: ``kv`` (the language model's cache object) holds exactly the rows
    of ``rows``; ``nbytes``: its tensors and the rows together."""

    rows: PromptRows
    kv: object
    nbytes: int


class PrefixCache:
    """The KV caches of recent prompts (see the module docstring), at most ``budget_bytes``
    together. Thread-safe. ``stats()`` says what it holds and how often it helped."""

    def __init__(self, budget_bytes: int) -> None:
        if int(budget_bytes) < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
        self.budget_bytes = int(budget_bytes)
        self._entries: OrderedDict[int, PrefixEntry] = OrderedDict()
        self._next = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.reused_tokens = 0

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, rows: PromptRows) -> tuple[PrefixEntry | None, int]:
        """The stored entry sharing the longest prefix with ``rows`` and that prefix's length
        (None, 0: nothing shared). The caller reuses a copy of the entry's ``kv``, cut there."""
        with self._lock:
            best, best_k = None, 0
            for key, entry in self._entries.items():
                k = entry.rows.common_prefix(rows)
                if k > best_k:
                    best, best_k = key, k
            if best is None:
                self.misses += 1
                return None, 0
            self._entries.move_to_end(best)
            self.hits += 1
            self.reused_tokens += best_k
            return self._entries[best], best_k

    def store(self, rows: PromptRows, kv: object, kv_bytes: int) -> bool:
        """Keep ``kv`` (the cache of exactly ``rows``); entries it holds whole (an earlier turn
        of its conversation) are dropped, then the least recently used until the budget holds.
        False when it alone is over the budget (nothing is stored)."""
        entry = PrefixEntry(rows=rows, kv=kv, nbytes=int(kv_bytes) + rows.nbytes)
        if entry.nbytes > self.budget_bytes or len(rows) == 0:
            return False
        with self._lock:
            covered = [k for k, e in self._entries.items() if e.rows.common_prefix(rows) == len(e.rows)]
            for k in covered:
                del self._entries[k]
            self._entries[self._next] = entry
            self._next += 1
            while self.nbytes > self.budget_bytes:
                self._entries.popitem(last=False)
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, int]:
        """entries, bytes, budget_bytes, hits, misses, reused_tokens (what ``/health`` shows)."""
        with self._lock:
            return {
                "entries": len(self._entries),
                "bytes": self.nbytes,
                "budget_bytes": self.budget_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "reused_tokens": self.reused_tokens,
            }
