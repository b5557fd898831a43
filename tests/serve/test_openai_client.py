"""The real ``videopipe serve`` (a subprocess, tiny random Qwen2.5-VL) driven by the official
``openai`` client: plain and streamed answers about a generated video, the ``videopipe``
object (evidence inside the video, stats), per-request overrides through ``extra_body``, the
token cache across questions, and the same answer as ``Pipeline.ask`` with the same options."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.serve.conftest import SERVER_MAX_NEW_TOKENS, Media, Server
from videopipe.config import PipelineConfig

QUESTION = "What happens in the video?"


@pytest.fixture(scope="module")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


def _messages(video: str, question: str = QUESTION) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "video_url", "video_url": {"url": video}},
                {"type": "text", "text": question},
            ],
        }
    ]


def _model(client: openai.OpenAI) -> str:
    (model,) = client.models.list().data
    return model.id


def test_models_lists_the_served_model(client: openai.OpenAI, tiny_qwen: Path) -> None:
    assert _model(client) == str(tiny_qwen)


def test_answer_matches_pipeline_ask_and_carries_evidence(
    client: openai.OpenAI, media: Media, tiny_qwen: Path, tmp_path: Path
) -> None:
    video = media.videos["red.mp4"]
    r = client.chat.completions.create(model=_model(client), messages=_messages(video.as_uri()))
    text = r.choices[0].message.content
    assert isinstance(text, str) and text
    assert r.choices[0].finish_reason == r.model_extra["videopipe"]["stats"]["finish_reason"]
    vp = r.model_extra["videopipe"]
    assert vp["text"] == text and vp["video"] == str(video) and vp["question"] == QUESTION
    duration = media.durations["red.mp4"]
    assert vp["evidence"] and all(0 <= h["start_s"] <= h["end_s"] <= duration for h in vp["evidence"])
    assert all(h["video"] == str(video) for h in vp["evidence"])
    st = vp["stats"]
    assert st["frames_selected"] == 8 and 0 < st["tokens_after"] <= 48 < st["tokens_before"]

    from videopipe.pipeline import Pipeline

    cfg = PipelineConfig(
        model=str(tiny_qwen),
        device="cpu",
        num_frames=8,
        size_px=112,
        max_visual_tokens=48,
        max_new_tokens=SERVER_MAX_NEW_TOKENS,
        cache_dir=str(tmp_path),
    )
    expected = Pipeline(config=cfg).ask(video, QUESTION)
    assert text == expected.text
    assert [(h["start_s"], h["end_s"]) for h in vp["evidence"]] == [
        (h.start_s, h.end_s) for h in expected.evidence
    ]
    assert st["tokens_after"] == expected.stats.tokens_after


def test_streamed_answer_comes_token_by_token_and_equals_the_plain_one(
    client: openai.OpenAI, media: Media
) -> None:
    video = str(media.videos["blue.mp4"])  # the plain path form
    model = _model(client)
    plain = client.chat.completions.create(model=model, messages=_messages(video), max_tokens=10)
    stream = client.chat.completions.create(
        model=model, messages=_messages(video), max_tokens=10, stream=True
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2  # several pieces: streamed as generated, not one blob
    assert "".join(pieces) == plain.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == plain.choices[0].finish_reason
    vp = chunks[-1].model_extra["videopipe"]
    assert vp["evidence"] and vp["text"] == "".join(pieces)
    assert vp["stats"]["cached"]  # the plain request before it put the tokens in the cache


def test_extra_body_overrides_honour_the_visual_token_budget(client: openai.OpenAI, media: Media) -> None:
    video = media.videos["green.mp4"].as_uri()
    r = client.chat.completions.create(
        model=_model(client),
        messages=_messages(video),
        extra_body={"videopipe": {"num_frames": 6, "max_visual_tokens": 16, "compressor": "pool"}},
    )
    st = r.model_extra["videopipe"]["stats"]
    assert st["frames_selected"] == 6 and 0 < st["tokens_after"] <= 16 < st["tokens_before"]
    with pytest.raises(openai.BadRequestError, match="sampler"):
        client.chat.completions.create(
            model=_model(client), messages=_messages(video), extra_body={"videopipe": {"sampler": "nope"}}
        )


def test_second_question_about_a_video_skips_decoding(client: openai.OpenAI, media: Media) -> None:
    video = media.videos["red.mp4"].as_uri()
    model = _model(client)
    first = client.chat.completions.create(model=model, messages=_messages(video, "Is there a red screen?"))
    second = client.chat.completions.create(model=model, messages=_messages(video, "What colour comes last?"))
    # the answer test above or this one's first question decoded it; the second reads the cache
    st = second.model_extra["videopipe"]["stats"]
    assert st["cached"] and st["frames_decoded"] == 0 and "decode" not in st["seconds"]
    assert first.model_extra["videopipe"]["stats"]["frames_selected"] == st["frames_selected"]


def test_sampling_temperature_is_accepted(client: openai.OpenAI, media: Media) -> None:
    video = media.videos["red.mp4"].as_uri()
    texts = {
        client.chat.completions.create(
            model=_model(client), messages=_messages(video), temperature=5.0, max_tokens=8
        )
        .choices[0]
        .message.content
        for _ in range(3)
    }
    assert len(texts) > 1  # sampling at a high temperature varies; temperature 0 is greedy


def test_a_bad_video_is_422_with_the_cli_reason_and_the_server_goes_on(
    client: openai.OpenAI, media: Media, videopipe, server: Server
) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model=_model(client), messages=_messages(media.broken.as_uri()))
    body = err.value.body
    assert isinstance(body, dict) and body["type"] == "unprocessable_video_error"
    cli = videopipe("ask", str(media.broken), QUESTION, "--model", "fake")
    assert cli.returncode == 2 and len(cli.err_lines) == 1
    assert cli.err_lines[0] == "videopipe: error: " + body["message"]
    assert "Traceback" not in server.output()
    ok = client.chat.completions.create(
        model=_model(client), messages=_messages(media.videos["blue.mp4"].as_uri())
    )
    assert ok.choices[0].message.content
