"""What the CPU stage of a pipeline needs to know about a model, without its weights.

Sampling and decoding depend on a model only through its token geometry (pixels per visual
token side, frames per temporal unit), whether it encodes clips of different sizes, and its id
(part of the token-cache key): :class:`ModelFacts`, defined in :mod:`videopipe.models.contract`.
:func:`read_model_facts` reads them from a checkpoint's config and processor files (a decode
worker never loads the weights); :func:`model_facts` from a loaded model. The two agree: an
adapter computes both with the same code.

This module only re-exports them from where they live now (``contract.py`` and ``loading.py``).
"""

from __future__ import annotations

from videopipe.models.contract import ModelFacts, model_facts
from videopipe.models.loading import read_model_facts

__all__ = ["ModelFacts", "model_facts", "read_model_facts"]
