"""The typed request and response bodies of the API (pydantic). The chat completion types
follow OpenAI's; videopipe's additions are the request's ``videopipe`` field (per-request
pipeline overrides, the ``extra_body`` of the ``openai`` client) and the response's
``videopipe`` object (``Answer.to_dict()``: evidence, stats, video, question, text)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Message",
    "Overrides",
    "SearchRequest",
    "SearchResponse",
    "Usage",
]


class _Loose(BaseModel):
    """OpenAI bodies carry fields this server does not use (``user``, ``top_p``, ...)."""

    model_config = ConfigDict(extra="ignore")


class TextPart(_Loose):
    type: Literal["text"]
    text: str


class VideoUrl(_Loose):
    url: str


class VideoUrlPart(_Loose):
    """``{"type": "video_url", "video_url": {"url": "file:///v.mp4"}}`` (also ``"video_url": "..."``).
    ``uuid``: a name for this video that later requests may send instead of the URL (vLLM's)."""

    type: Literal["video_url"]
    video_url: VideoUrl | str | None = None
    uuid: str | None = Field(default=None, min_length=1, max_length=200)

    @property
    def ref(self) -> str | None:
        return self.video_url if isinstance(self.video_url, str | None) else self.video_url.url


class VideoPart(_Loose):
    """The plain form other servers accept: ``{"type": "video", "video": "/path/v.mp4"}``."""

    type: Literal["video"]
    video: str | None = None
    uuid: str | None = Field(default=None, min_length=1, max_length=200)

    @property
    def ref(self) -> str | None:
        return self.video


class ImageUrl(_Loose):
    url: str


class ImageUrlPart(_Loose):
    """``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``: the images of
    one message are the frames of a video (``images.py``)."""

    type: Literal["image_url"]
    image_url: ImageUrl | str

    @property
    def url(self) -> str:
        return self.image_url if isinstance(self.image_url, str) else self.image_url.url


class MediaKwargs(BaseModel):
    """vLLM's per-request video options (``mm_processor_kwargs``, ``media_io_kwargs["video"]``);
    see ``media_options.py``."""

    model_config = ConfigDict(extra="forbid")

    fps: float | None = Field(default=None, gt=0, le=240)
    num_frames: int | None = Field(default=None, ge=1, le=4096)
    max_pixels: int | None = Field(default=None, ge=1, le=1 << 26)
    min_pixels: int | None = Field(default=None, ge=1, le=1 << 26)

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


Part = Annotated[TextPart | VideoUrlPart | VideoPart | ImageUrlPart, Field(discriminator="type")]


class Message(_Loose):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[Part] | None = None


class Overrides(BaseModel):
    """Per-request pipeline options (``extra_body={"videopipe": {...}}``); unset: the server's."""

    model_config = ConfigDict(extra="forbid")

    sampler: str | None = None
    compressor: str | None = None
    num_frames: int | None = Field(default=None, ge=1, le=4096)
    max_visual_tokens: int | None = Field(default=None, ge=1, le=1_000_000)

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class StreamOptions(_Loose):
    include_usage: bool = False


class ChatRequest(_Loose):
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float | None = Field(default=None, ge=0, le=10)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    videopipe: Overrides | None = None
    mm_processor_kwargs: MediaKwargs | None = None
    media_io_kwargs: dict[Literal["video"], MediaKwargs] | None = None

    def media(self) -> dict[str, Any]:
        """The video options of ``media_io_kwargs["video"]`` and ``mm_processor_kwargs`` (these
        win where both give one)."""
        io = (self.media_io_kwargs or {}).get("video")
        return {
            **(io.given() if io else {}),
            **(self.mm_processor_kwargs.given() if self.mm_processor_kwargs else {}),
        }


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class PromptTokensDetails(BaseModel):
    """The prompt's tokens by kind: the visual tokens after compression, and the text's;
    ``cached_tokens``: the prompt's leading tokens read from a stored KV cache (an earlier
    turn's) instead of prefilled (OpenAI's field)."""

    visual_tokens: int
    text_tokens: int
    cached_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails

    @classmethod
    def of(cls, stats: Any) -> Usage:
        """The usage of an answer, from its :class:`~videopipe.types.Stats`."""
        visual = min(int(stats.tokens_after), int(stats.prompt_tokens))
        return cls(
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            total_tokens=stats.prompt_tokens + stats.completion_tokens,
            prompt_tokens_details=PromptTokensDetails(
                visual_tokens=visual,
                text_tokens=stats.prompt_tokens - visual,
                cached_tokens=stats.cached_tokens,
            ),
        )


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    videopipe: dict[str, Any]


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    videopipe: dict[str, Any] | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=5, ge=1, le=100)
    video: str | None = None


class SearchResponse(BaseModel):
    query: str
    hits: list[dict[str, Any]]
