"""``usage`` and ``finish_reason`` through the official ``openai`` client against the real
server (tiny random Qwen2.5-VL): the counts are the pipeline's own (``videopipe.stats``), the
prompt's are the text's plus the visual tokens after compression, streamed replies carry them
in a last chunk when ``stream_options.include_usage`` asks, and ``max_tokens`` that cuts the
answer is ``"length"``."""

from __future__ import annotations

import openai
import pytest

from tests.serve.conftest import Media, Server
from tests.serve.test_openai_client import _messages, _model


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


def _check(usage: openai.types.CompletionUsage, stats: dict) -> None:
    assert usage.prompt_tokens == stats["prompt_tokens"] > stats["tokens_after"] > 0
    assert usage.completion_tokens == stats["completion_tokens"] > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    details = usage.prompt_tokens_details.model_dump()  # visual_tokens: an extra field
    assert details["visual_tokens"] == stats["tokens_after"]  # after compression, not before
    assert details["text_tokens"] == usage.prompt_tokens - stats["tokens_after"] > 0


def test_usage_is_the_pipeline_s_count_and_length_when_cut(client: openai.OpenAI, media: Media) -> None:
    video = media.videos["green.mp4"].as_uri()
    r = client.chat.completions.create(model=_model(client), messages=_messages(video), max_tokens=3)
    stats = r.model_extra["videopipe"]["stats"]
    _check(r.usage, stats)
    assert r.usage.completion_tokens <= 3
    # a random model does not end its turn within 3 tokens: max_tokens cut it
    assert r.choices[0].finish_reason == stats["finish_reason"] == "length"
    assert r.usage.completion_tokens == 3
    longer = client.chat.completions.create(model=_model(client), messages=_messages(video), max_tokens=5)
    assert longer.usage.prompt_tokens == r.usage.prompt_tokens  # same prompt, more answer
    assert longer.usage.completion_tokens == 5


def test_streamed_usage_comes_in_the_last_chunk(client: openai.OpenAI, media: Media) -> None:
    video = media.videos["green.mp4"].as_uri()
    model = _model(client)
    plain = client.chat.completions.create(model=model, messages=_messages(video), max_tokens=4)
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=_messages(video),
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"
    stats = chunks[-2].model_extra["videopipe"]["stats"]
    _check(last.usage, stats)
    assert last.usage == plain.usage
    no_usage = list(
        client.chat.completions.create(model=model, messages=_messages(video), max_tokens=4, stream=True)
    )
    assert all(c.usage is None for c in no_usage) and no_usage[-1].choices


def test_the_fake_model_is_counted_by_the_pipeline(media: Media, tmp_path) -> None:
    """A model that does not count (the scripted fake) gets the pipeline's tokenizer count, and
    "stop" when the answer is shorter than max_tokens."""
    from tests.serve.inprocess import chat_body, fake_client

    with fake_client(tmp_path, allow_dirs=(media.allowed,)) as c:
        r = c.post("/v1/chat/completions", json=chat_body("red.mp4", max_tokens=100)).json()
    stats, usage = r["videopipe"]["stats"], r["usage"]
    assert r["choices"][0]["finish_reason"] == "stop"
    assert usage["prompt_tokens"] == stats["prompt_tokens"] > stats["tokens_after"]
    assert usage["completion_tokens"] == stats["completion_tokens"] == 5  # "The screen is red." / 4
    assert usage["prompt_tokens_details"]["visual_tokens"] == stats["tokens_after"]
