"""Conversations through the official ``openai`` client: system messages, earlier user turns
and the assistant's answers reach the model (through its chat template where it converses),
the video once, where the messages put it, and a follow-up about the same video decodes
nothing (the worker's counter) and prefills only its new text (the earlier turns' KV cache is
reused: ``usage.prompt_tokens_details.cached_tokens``). The application runs in-process (starlette's ``TestClient``
is the ``openai`` client's HTTP client) so the test can see the prompt the model got."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import Media
from tests.serve.inprocess import fake_settings
from videopipe.config import PipelineConfig
from videopipe.serve.app import create_app
from videopipe.testing.fake_model import FakeVideoLLM

SYSTEM = "You are a careful video analyst."


@contextmanager
def _client(settings: Any, model: Any = None) -> Iterator[tuple[openai.OpenAI, Any]]:
    app = create_app(settings, model=model)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost:8000") as http:
        yield openai.OpenAI(base_url="http://localhost:8000/v1", api_key="x", http_client=http), app


def _three_turns(client: openai.OpenAI, model: str, video: str) -> list[Any]:
    """Three questions, each sent with the whole conversation so far; the replies."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": video}},
                {"type": "text", "text": "What colour is the screen?"},
            ],
        },
    ]
    replies = []
    for follow_up in ("Is that colour there from the start?", "And what did you say first?", None):
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=6)
        replies.append(r)
        if follow_up is not None:
            messages += [
                {"role": "assistant", "content": r.choices[0].message.content},
                {"role": "user", "content": follow_up},
            ]
    return replies


def test_a_conversation_reaches_the_model_and_decodes_once(media: Media, tmp_path: Path) -> None:
    fake = FakeVideoLLM()  # converses through its question text (can_converse False)
    settings = fake_settings(tmp_path, allow_dirs=(media.allowed,))
    with _client(settings, fake) as (client, app):
        replies = _three_turns(client, "fake", "red.mp4")
        counters = app.state.worker.counters
    assert [r.choices[0].message.content for r in replies] == ["The screen is red."] * 3
    prompt = fake.last_prompt
    assert SYSTEM in prompt and "What colour is the screen?" in prompt
    assert "Is that colour there from the start?" in prompt and "The screen is red." in prompt
    assert prompt.rstrip().endswith("And what did you say first?")
    assert counters.videos_decoded == 1 and counters.answered == 3
    for r in replies[1:]:
        stats = r.model_extra["videopipe"]["stats"]
        assert stats["cached"] and stats["frames_decoded"] == 0


def test_the_chat_template_holds_every_turn_and_the_video_once(
    media: Media, tiny_qwen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videopipe.models.base import TransformersVideoLLM

    prompts: list[str] = []
    real = TransformersVideoLLM.chat_text

    def spy(self: Any, question: str, tokens: Any, history: Any = ()) -> str:
        prompts.append(real(self, question, tokens, history))
        return prompts[-1]

    monkeypatch.setattr(TransformersVideoLLM, "chat_text", spy)
    ran: list[int] = []  # rows of every pass of the language model (1: a generated token)
    run_lm = TransformersVideoLLM._run_lm

    def counted(self: Any, embeds: Any, *args: Any, **kw: Any) -> Any:
        ran.append(int(embeds.shape[1]))
        return run_lm(self, embeds, *args, **kw)

    monkeypatch.setattr(TransformersVideoLLM, "_run_lm", counted)
    config = PipelineConfig(
        model=str(tiny_qwen), device="cpu", num_frames=8, size_px=112, max_visual_tokens=48,
        cache_dir=str(tmp_path),
    )  # fmt: skip
    with _client(fake_settings(tmp_path, config=config, allow_dirs=(media.allowed,))) as (client, app):
        replies = _three_turns(client, str(tiny_qwen), "blue.mp4")
        counters = app.state.worker.counters
    assert counters.videos_decoded == 1 and counters.answered == 3
    first, second, third = prompts
    marker = "<|video_pad|>"
    for p in prompts:
        assert p.count(marker) == 1 and p.startswith("<|im_start|>system\n" + SYSTEM)
    answers = [r.choices[0].message.content for r in replies]
    # the video sits in the first user turn, before its question; later turns follow in order
    order = [
        SYSTEM,
        marker,
        "What colour is the screen?",
        answers[0],
        "Is that colour there from the start?",
        answers[1],
        "And what did you say first?",
    ]
    at = 0
    for x in order:  # each after the one before (answers may repeat: greedy random model)
        at = third.index(x, at) + len(x)
    assert answers[0] in second and "And what did you say first?" not in second
    assert third.count("<|im_start|>assistant") == 3  # two answers and the generation prompt
    # the follow-ups' prompts are longer by their text only: the visual tokens are the same
    usage = [r.usage for r in replies]
    visual = {u.prompt_tokens_details.model_dump()["visual_tokens"] for u in usage}
    assert len(visual) == 1 and usage[0].prompt_tokens < usage[1].prompt_tokens < usage[2].prompt_tokens
    # turns 2 and 3 continue from the KV cache of the turn before (its whole prompt and the
    # answer's tokens as far as they match their re-tokenized text) and prefill the rest only
    cached = [u.prompt_tokens_details.cached_tokens for u in usage]
    assert cached[0] == 0
    for before, u, c in zip(usage, usage[1:], cached[1:]):
        assert before.prompt_tokens <= c < u.prompt_tokens
    prefilled = [u.prompt_tokens - c for u, c in zip(usage, cached)]
    assert [n for n in ran if n > 1] == prefilled  # what the language model really ran over
    assert counters.prefill_tokens == sum(prefilled) and counters.cached_tokens == sum(cached)


@pytest.mark.parametrize("mb", [0, 2])
def test_the_kv_cache_budget_is_the_servers(mb: int, tiny_qwen: Path, tmp_path: Path) -> None:
    config = PipelineConfig(model=str(tiny_qwen), device="cpu", cache_dir=str(tmp_path))
    app = create_app(fake_settings(tmp_path, config=config, kv_cache_bytes=mb * 2**20))
    with TestClient(app, base_url="http://localhost:8000") as http:
        kv = http.get("/health").json()["kv_cache"]
    if mb == 0:
        assert kv is None  # --kv-cache-mb 0: every prompt is prefilled whole
    else:
        assert kv == {**kv, "budget_bytes": 2 * 2**20, "entries": 0, "bytes": 0}


def test_a_negative_kv_cache_budget_is_a_usage_error(videopipe: Any) -> None:
    from tests.cli.test_usage_errors import _one_line_error

    _one_line_error(videopipe("serve", "--model", "fake", "--kv-cache-mb", "-1"), "--kv-cache-mb")
