"""The options that several commands share, declared once.

Every pipeline flag (``--model``, ``--sampler``, ``--num-frames``, ...) is one ``Annotated``
typer option here, with one name, short name, limit and help text, and it maps to one
:class:`~videopipe.config.PipelineConfig` field. A flag's default is None, "not given": the
value then comes from ``--config`` (a TOML file), else from ``PipelineConfig``'s default, the
one shown in the help. ``ask``, ``batch`` and ``eval`` take every pipeline flag, ``frames``
the ones that choose frames; ``batch`` and ``eval`` also share the executor flags.

A command does not re-declare them: the decorators :func:`pipeline_options` and
:func:`executor_options` add the flags to its signature (typer reads the signature) and hand
the command one value instead, :class:`PipelineFlags` or :class:`ExecutorFlags`::

    @pipeline_options()
    def ask(video: ..., question: ..., *, pipeline: PipelineFlags) -> None:
        cfg = pipeline.config()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from videopipe.cli.flags import F, Flag, with_flags
from videopipe.config import CPU_DEFAULT_MODEL, CPU_DEFAULT_NUM_FRAMES, config_defaults

if TYPE_CHECKING:
    from videopipe.batch.run import Executor
    from videopipe.config import PipelineConfig

__all__ = [
    "EXECUTOR_FLAGS",
    "IndexAsrModel",
    "IndexEmbedder",
    "IndexEmbedderModel",
    "IndexSpeechWithSubtitles",
    "IndexText",
    "IndexWorkers",
    "JobAsrModel",
    "JobText",
    "PIPELINE_FLAGS",
    "SELECTION_FLAGS",
    "ExecutorFlags",
    "Flag",
    "PipelineFlags",
    "Progress",
    "Quiet",
    "VideoFile",
    "executor_options",
    "finite_float",
    "pipeline_options",
    "with_flags",
]

_D = config_defaults()
_PIPELINE = "Pipeline options"
_EXECUTOR = "Executor options"


def _default(name: str) -> str:
    return f"default {_D[name]}"


def _pipeline(*decls: str, **kwargs: Any) -> Any:
    return typer.Option(*decls, rich_help_panel=_PIPELINE, **kwargs)


def _executor(*decls: str, **kwargs: Any) -> Any:
    return typer.Option(*decls, rich_help_panel=_EXECUTOR, **kwargs)


def finite_float(value: float | None) -> float | None:
    """The callback of every float option: NaN and infinity are usage errors (click's range
    checks compare, and every comparison with NaN is False)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


# -- pipeline flags ---------------------------------------------------------------------------
Config = Annotated[
    Path | None,
    _pipeline("--config", help="TOML file with any pipeline option; flags override it."),
]
Model = Annotated[
    str | None,
    _pipeline(
        "--model",
        help=f"Video LLM: a Hugging Face id or a local directory ({_default('model')}); "
        f"{CPU_DEFAULT_MODEL} without a CUDA GPU.",
    ),
]
Sampler = Annotated[
    str | None,
    _pipeline(
        "--sampler",
        help=f"Frame sampler, see `videopipe list` ({_default('sampler')}).",
    ),
]
Compressor = Annotated[
    str | None,
    _pipeline(
        "--compressor",
        help="Visual-token compressor spec: a name, options in brackets, chains with + "
        "(segment_merge, progressive[per_frame_budget=0], static_prune+segment_merge) "
        f"({_default('compressor')}).",
    ),
]
NumFrames = Annotated[
    int | None,
    _pipeline(
        "--num-frames",
        "-n",
        min=1,
        help=f"Frame budget per video ({_default('num_frames')}); {CPU_DEFAULT_NUM_FRAMES} without a CUDA GPU.",
    ),
]
MaxVisualTokens = Annotated[
    int | None,
    _pipeline(
        "--max-visual-tokens",
        min=1,
        help=f"Visual-token budget after compression ({_default('max_visual_tokens')}; "
        "not applied with --compressor none).",
    ),
]
Size = Annotated[
    int | None,
    _pipeline(
        "--size",
        help="Shorter side of frames, pixels: one visual token of the model to 4096 "
        f"({_default('size_px')}).",
    ),
]
Embedder = Annotated[
    str | None,
    _pipeline("--embedder", help="Embedder for query-aware samplers and retrieval, see `videopipe list`."),
]
Retrieve = Annotated[
    int | None,
    _pipeline("--retrieve", min=1, help="Restrict sampling to the top-K clips for the question."),
]
IndexDir = Annotated[
    Path | None,
    _pipeline("--index", help="Index directory for --retrieve."),
]
Device = Annotated[
    str | None,
    _pipeline(),
]
Dtype = Annotated[
    str | None,
    _pipeline(
        "--dtype",
        help=f"auto, float32, bfloat16 or float16 ({_default('dtype')}).",
    ),
]
MaxNewTokens = Annotated[
    int | None,
    _pipeline(
        "--max-new-tokens",
        min=1,
        help=f"Answer length limit, in tokens ({_default('max_new_tokens')}).",
    ),
]
Backend = Annotated[
    str | None,
    _pipeline(
        "--backend",
        help=f"Decoder backend, see `videopipe list` ({_default('decode_backend')}).",
    ),
]
Text = Annotated[
    str | None,
    _pipeline(
        "--text",
        help="The video's text given to the LLM and to retrieval: any of subtitles,speech,screen, or "
        "none, or auto (subtitles + speech when the speech extra is installed; "
        f"{_default('text')}).",
    ),
]
AsrModel = Annotated[
    str | None,
    _pipeline(
        "--asr-model",
        help="Speech model: a faster-whisper name (e.g. distil-large-v3) or a model directory "
        "(default: the bundled tiny.en).",
    ),
]
MaxTextTokens = Annotated[
    int | None,
    _pipeline(
        "--max-text-tokens",
        min=1,
        help=f"Budget of the video's text in the prompt, in tokens ({_default('max_text_tokens')}).",
    ),
]
SpeechWithSubtitles = Annotated[
    bool,
    _pipeline(
        "--speech-with-subtitles",
        help="Transcribe speech even when the video has subtitles, and keep both (default: "
        "subtitles win and no ASR runs).",
    ),
]
Quantize = Annotated[
    str | None,
    _pipeline(
        "--quantize",
        help="auto (int8-weights on a CPU running bfloat16, else none), none, int8-weights (the LLM's linear "
        "layers hold int8 weights: faster decoding), or int8 (that, and dynamic int8 layers in the "
        f"vision tower); CPU only; small drift, see docs/models.md ({_default('quantize')}).",
    ),
]
VisionMerge = Annotated[
    int | None,
    _pipeline(
        "--vision-merge",
        help="ToMe: merge R tokens per layer inside the SigLIP vision tower (SmolVLM2, LLaVA-OneVision); "
        f"0: off ({_default('vision_merge')}).",
    ),
]
NoCache = Annotated[
    bool,
    _pipeline("--no-cache", help="Do not read or write the token cache."),
]


#: every pipeline flag, in the order the help lists them
PIPELINE_FLAGS: tuple[Flag, ...] = (
    Flag("model", Model, "model"),
    Flag("sampler", Sampler, "sampler"),
    Flag("compressor", Compressor, "compressor"),
    Flag("num_frames", NumFrames, "num_frames"),
    Flag("max_visual_tokens", MaxVisualTokens, "max_visual_tokens"),
    Flag("size", Size, "size_px"),
    Flag("embedder", Embedder, "embedder"),
    Flag("retrieve", Retrieve, "retrieve"),
    Flag("index", IndexDir, "index_dir", to_field=lambda v: str(v) if v is not None else None),
    Flag("device", Device, "device"),
    Flag("dtype", Dtype, "dtype"),
    Flag("max_new_tokens", MaxNewTokens, "max_new_tokens"),
    Flag("backend", Backend, "decode_backend"),
    Flag("text", Text, "text"),
    Flag("asr_model", AsrModel, "asr_model"),
    Flag("max_text_tokens", MaxTextTokens, "max_text_tokens"),
    Flag(
        "speech_with_subtitles",
        SpeechWithSubtitles,
        "speech_with_subtitles",
        default=False,
        to_field=lambda v: True if v else None,
    ),
    Flag("no_cache", NoCache, "cache_tokens", default=False, to_field=lambda v: False if v else None),
    Flag("quantize", Quantize, "quantize"),
    Flag("vision_merge", VisionMerge, "vision_merge"),
)

#: the pipeline flags that decide which frames are selected (``frames`` previews them)
SELECTION_FLAGS = ("model", "sampler", "num_frames", "size", "embedder", "backend")


@dataclass(frozen=True)
class PipelineFlags:
    """The pipeline flags of one command line: ``--config`` and the fields the flags set."""

    config_file: Path | None = None
    given: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], flags: Sequence[Flag]) -> PipelineFlags:
        given = {f.config_field: f.to_field(values[f.name]) for f in flags if f.name != "config"}
        return cls(values.get("config"), {k: v for k, v in given.items() if v is not None})

    def config(self, **overrides: Any) -> PipelineConfig:
        """Defaults (this machine's: :func:`videopipe.config.machine_defaults`) < the ``--config``
        file < the flags < ``overrides`` (None: not set)."""
        from videopipe.config import PipelineConfig, machine_defaults, toml_keys

        base = PipelineConfig.load(self.config_file) if self.config_file is not None else PipelineConfig()
        chosen = {**self.given, **{k: v for k, v in overrides.items() if v is not None}}
        # the model and frame budget this machine runs by default (a smaller model without a
        # GPU), unless a flag, the caller or the config file named them
        named = set(chosen) | (toml_keys(self.config_file) if self.config_file is not None else set())
        device = chosen.get("device", base.device)
        fallback = {k: v for k, v in machine_defaults(device).items() if k not in named}
        return base.with_overrides(**{**fallback, **chosen})


# -- executor flags (batch, eval) -------------------------------------------------------------
ExecutorName = Annotated[str, _executor("--executor", help="local or ray, see `videopipe list`.")]
Workers = Annotated[
    int,
    _executor("--workers", "-j", min=1, help="CPU worker processes (or Ray model actors)."),
]
ModelWorkers = Annotated[
    int | None,
    _executor(
        "--model-workers",
        min=0,
        help="Model worker processes fed by the CPU workers (default: one per GPU; 0: the CPU workers "
        "run the model).",
    ),
]
TaskTimeout = Annotated[
    float | None,
    _executor(
        "--task-timeout-s",
        callback=finite_float,
        help="Stop a worker stuck on one video this long (local executor).",
    ),
]
Address = Annotated[
    str | None,
    _executor("--address", help="Ray cluster address (e.g. auto)."),
]

EXECUTOR_FLAGS: tuple[Flag, ...] = (
    Flag("executor_name", ExecutorName, "executor", default="local"),
    Flag("workers", Workers, "workers", default=1),
    Flag("model_workers", ModelWorkers, "model_workers"),
    Flag("task_timeout_s", TaskTimeout, "task_timeout_s"),
    Flag("address", Address, "address"),
)


@dataclass(frozen=True)
class ExecutorFlags:
    """The executor flags of one command line (see :func:`videopipe.batch.run.make_executor`)."""

    executor: str = "local"
    workers: int = 1
    model_workers: int | None = None
    task_timeout_s: float | None = None
    address: str | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any], flags: Sequence[Flag]) -> ExecutorFlags:
        return cls(**{f.config_field: values[f.name] for f in flags})

    def make(self) -> Executor:
        from videopipe.batch.run import make_executor

        return make_executor(
            self.executor,
            workers=self.workers,
            model_workers=self.model_workers,
            address=self.address,
            task_timeout_s=self.task_timeout_s,
        )


Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]
#: the first argument of the commands about one video
VideoFile = Annotated[Path, typer.Argument(help="Video file.")]
#: the commands that draw a progress bar on stderr unless told not to
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


# -- index flags (``videopipe index``: what an index is built with, and its workers) -----------
# Their default is None, "the index's own value" (a new index: the default named in the help).
_INDEX = "Index options"
IndexEmbedder = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        rich_help_panel=_INDEX,
        help="Embedder name (see `videopipe list`) or package.module:Class; default: the index's own, "
        "or 'text' for a new index.",
    ),
]
IndexEmbedderModel = Annotated[
    str | None,
    typer.Option(
        "--embedder-model",
        rich_help_panel=_INDEX,
        help="The embedder's model_id (a local directory or, for clip, a hub id).",
    ),
]
IndexText = Annotated[
    str | None,
    typer.Option(
        "--text",
        rich_help_panel=_INDEX,
        help="Text sources of the clips' texts: any of subtitles,speech,screen, or none, or auto "
        "(subtitles + speech when the speech extra is installed); default: the index's own, auto "
        "for a new index.",
    ),
]
IndexAsrModel = Annotated[
    str | None,
    typer.Option(
        "--asr-model",
        rich_help_panel=_INDEX,
        help="Speech model: a faster-whisper name (distil-large-v3, ...) or directory; default: the "
        "bundled tiny.en.",
    ),
]
IndexSpeechWithSubtitles = Annotated[
    bool | None,
    typer.Option(
        "--speech-with-subtitles/--subtitles-win",
        rich_help_panel=_INDEX,
        help="Transcribe subtitled videos too and index both (default: the index's own; a new "
        "index: subtitles win).",
        show_default=False,
    ),
]
IndexWorkers = Annotated[
    int | None,
    _executor(
        "--workers",
        "-j",
        min=1,
        help="Worker processes (local) or actors (ray) that index videos; the index is written by this "
        "process alone (default local: one per core, at most one per 4 videos to embed; see "
        "docs/retrieval.md).",
    ),
]


# -- long-video job flags (chapters, locate, summarize, transcribe); None: auto, the bundled tiny.en
JobText = Annotated[
    str | None,
    typer.Option(
        "--text",
        help="Text sources: auto (subtitles, speech and screen text when installed), none, "
        "or a list (subtitles,speech,screen).",
    ),
]
JobAsrModel = Annotated[
    str | None,
    typer.Option(
        "--asr-model",
        help="Whisper model: a faster-whisper name (tiny.en, distil-large-v3, ...) or a CTranslate2 "
        "directory (default: the bundled tiny.en of the speech extra).",
    ),
]


# -- the decorators ---------------------------------------------------------------------------
def pipeline_options(names: Sequence[str] | None = None) -> Callable[[F], F]:
    """Give the command ``--config`` and the pipeline flags ``names`` (default: all of
    :data:`PIPELINE_FLAGS`); it receives them as ``pipeline: PipelineFlags``."""
    chosen = [f for f in PIPELINE_FLAGS if names is None or f.name in names]
    unknown = set(names or ()) - {f.name for f in PIPELINE_FLAGS}
    if unknown:
        raise ValueError(f"unknown pipeline flag(s) {sorted(unknown)}")
    flags = (*chosen, Flag("config", Config, "config"))
    return with_flags("pipeline", flags, PipelineFlags.from_values)


def executor_options(command: F) -> F:
    """Give the command the executor flags; it receives them as ``executor: ExecutorFlags``."""
    return with_flags("executor", EXECUTOR_FLAGS, ExecutorFlags.from_values)(command)
