"""A scripted stand-in for a video LLM, for tests, benchmarks of the plumbing and demos.

It "sees" colour: ``encode`` turns each ``token_px`` x ``token_px`` patch into a token whose
features are the patch's mean RGB (in [0, 1]) and its spread, and ``generate`` answers from
what the tokens show — the colour of a flat "needle" scene (``videopipe.testing.videos``)
when one is visible, else "no needle". Given a multiple-choice prompt (lettered options, as
``videopipe eval`` builds), it answers with the letter of the option naming that colour, in a
format chosen by ``answer_style`` so option parsing gets exercised.

It also counts its calls (``calls``; and in ``calls_file`` when set, one line per call, so a
test can count calls across processes).

It is the ``MODELS`` entry ``"fake"`` like any other model: ``--model fake`` or
``PipelineConfig(model="fake:sentence")`` (the part after the colon is its model_id, here the
answer style). It implements :class:`videopipe.models.contract.VideoLLM` and nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import torch

from videopipe.errors import ConfigError, InputError
from videopipe.models.contract import ModelFacts, VideoLLM
from videopipe.settings import FRAMES_PER_BATCH
from videopipe.testing.videos import NEEDLE_COLORS
from videopipe.types import Frames, VisualTokens

_STYLES = ("letter", "paren", "sentence", "lower", "garbage")
DEFAULT_TOKEN_PX = 28


class FakeVideoLLM(VideoLLM):
    """Deterministic, CPU-only, no weights. See the module docstring.

    model_id:  as a ``MODELS`` entry, the answer style (``fake:paren``); the id the model reports
               (and the token cache keys on) is always ``videopipe/fake-color-llm``
    device, dtype, frames_per_batch: accepted like every ``MODELS`` entry; it runs on the CPU
    """

    model_id = "videopipe/fake-color-llm"
    name = "fake"
    model_types: ClassVar[tuple[str, ...]] = ()  # loads no transformers checkpoint
    mixed_resolution = True  # encode() may be called once per clip size

    def __init__(
        self,
        model_id: str | None = None,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        frames_per_batch: int = FRAMES_PER_BATCH,
        token_px: int = DEFAULT_TOKEN_PX,
        min_frames: int = 1,
        answer_style: str | None = None,
        calls_file: str | Path | None = None,
    ) -> None:
        if model_id is not None and answer_style is not None and model_id != answer_style:
            raise ConfigError(f"model_id {model_id!r} and answer_style {answer_style!r} disagree; give one")
        if model_id is not None and model_id not in _STYLES:
            raise ConfigError(
                f"model 'fake:{model_id}': the fake model's id is its answer style; use 'fake' or "
                f"'fake:STYLE' with STYLE one of {', '.join(_STYLES)}"
            )
        answer_style = answer_style or model_id or "letter"
        if answer_style not in _STYLES:
            raise ConfigError(f"answer_style must be one of {', '.join(_STYLES)}, got {answer_style!r}")
        self.token_px = token_px
        self.min_frames = min_frames
        self.answer_style = answer_style
        self.calls_file = Path(calls_file) if calls_file else None
        self.calls = {"encode": 0, "generate": 0}
        self.last_prompt_tokens = 0
        self.last_prompt = ""

    @classmethod
    def read_facts(cls, model_id: str | None = None) -> ModelFacts:
        """The facts of the model ``MODELS.create("fake", model_id=model_id)`` builds (it has no
        weights to avoid loading, so it is built and asked)."""
        return cls(model_id).facts()

    def _count(self, what: str) -> None:
        self.calls[what] += 1
        if self.calls_file is not None:
            with open(self.calls_file, "a", encoding="utf-8") as f:
                f.write(what + "\n")

    def encode(self, frames: Frames) -> VisualTokens:
        if len(frames) < self.min_frames:
            raise InputError(f"the model needs at least {self.min_frames} frames, got {len(frames)}")
        self._count("encode")
        p = self.token_px
        x = frames.data.to(torch.float32) / 255.0  # [T, H, W, 3]
        t, h, w, _ = x.shape
        gh, gw = max(1, h // p), max(1, w // p)
        x = (
            x[:, : gh * p, : gw * p]
            .reshape(t, gh, p, gw, p, 3)
            .permute(0, 1, 3, 2, 4, 5)
            .reshape(t, gh, gw, p * p, 3)
        )
        feats = torch.cat([x.mean(3), x.std(3)], dim=-1)  # [T, gh, gw, 6]
        return VisualTokens.from_grid(feats, frames.indices, frames.pts_s, meta={"grid": (gh, gw)})

    def text_embeddings(self, text: str) -> torch.Tensor:
        """Colour words of ``text`` in the token feature space (a flat patch of that colour);
        what the pipeline uses to rank evidence."""
        words = re.findall(r"[a-z]+", text.lower())
        rows = [list(NEEDLE_COLORS[w]) for w in words if w in NEEDLE_COLORS]
        if not rows:
            return torch.zeros(0, 6)
        rgb = torch.tensor(rows, dtype=torch.float32) / 255.0
        return torch.cat([rgb, torch.zeros_like(rgb)], dim=1)

    def needle_color(self, tokens: VisualTokens) -> str | None:
        """The needle colour most tokens show, if any token is a flat needle colour."""
        if len(tokens) == 0:
            return None
        rgb = tokens.features[:, :3].to(torch.float32)
        flat = tokens.features[:, 3:6].mean(1) < 0.05
        names = list(NEEDLE_COLORS)
        ref = torch.tensor([NEEDLE_COLORS[n] for n in names], dtype=torch.float32) / 255.0
        d = torch.cdist(rgb, ref)  # [N, C]
        best = d.argmin(1)
        hit = flat & (d.min(1).values < 0.12)
        if not bool(hit.any()):
            return None
        counts = torch.bincount(best[hit], weights=tokens.size[hit].to(torch.float32), minlength=len(names))
        return names[int(counts.argmax())]

    def generate(self, tokens: VisualTokens, question: str, *, max_new_tokens: int = 128, **_: object) -> str:
        if not question or not question.strip():
            raise InputError("empty question: pass a non-empty question text")
        self._count("generate")
        self.last_prompt_tokens = len(tokens)
        self.last_prompt = question  # what the pipeline asked, with the video's text before it
        color = self.needle_color(tokens)
        options = re.findall(r"^([A-Z])\. (.+)$", question, flags=re.MULTILINE)
        if not options:
            return f"The screen is {color}." if color else "I see no needle."
        letter = next((k for k, text in options if color and color in text.lower()), None)
        if letter is None or self.answer_style == "garbage":
            return "I cannot tell from the video."
        return {
            "letter": letter,
            "paren": f"({letter})",
            "sentence": f"The answer is {letter}.",
            "lower": letter.lower(),
        }[self.answer_style][:max_new_tokens]
