"""The pipeline and executor options are declared once (videopipe/cli/options.py): ``ask``,
``batch``, ``eval``, ``serve`` and ``frames`` (where it applies) accept them with the same names, short
names, defaults, limits and help -- read from the typer app and from the installed CLI's
``--help`` -- and ``frames`` selects the frames ``Pipeline`` selects with the same options."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from tests.cli.conftest import cli_env
from videopipe.cli.app import app
from videopipe.cli.options import EXECUTOR_FLAGS, PIPELINE_FLAGS, SELECTION_FLAGS
from videopipe.config import PipelineConfig
from videopipe.pipeline import Pipeline
from videopipe.registry import SAMPLERS

PIPELINE_COMMANDS = ("ask", "batch", "eval", "serve")
EXECUTOR_COMMANDS = ("batch", "eval")
PIPELINE_NAMES = {f.name for f in PIPELINE_FLAGS} | {"config"}
EXECUTOR_NAMES = {f.name for f in EXECUTOR_FLAGS}


def _params(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]


def _describe(param: Any) -> tuple[Any, ...]:
    """Everything a user sees of an option: names, default, type, limits, help."""
    return (
        tuple(param.opts),
        tuple(param.secondary_opts),
        param.default,
        _type(param),
        (_limit(param, "min"), _limit(param, "max")),
        param.help,
    )


def _type(param: Any) -> str:
    # typer >= 0.29 keeps the annotation on the parameter; older typer gives a click type
    descriptor = getattr(param, "type_descriptor", None)
    return repr(descriptor.annotation) if descriptor is not None else param.type.name


def _limit(param: Any, which: str) -> Any:
    if which in vars(param):  # typer >= 0.29
        return vars(param)[which]
    return getattr(getattr(param, "type", None), which, None)


def test_pipeline_options_agree_across_ask_batch_eval_serve_and_frames() -> None:
    params = {c: _params(c) for c in (*PIPELINE_COMMANDS, "frames")}
    for command in PIPELINE_COMMANDS:
        assert PIPELINE_NAMES <= set(params[command]), (command, PIPELINE_NAMES - set(params[command]))
    for name in PIPELINE_NAMES:
        seen = {c: _describe(params[c][name]) for c in PIPELINE_COMMANDS}
        assert len(set(seen.values())) == 1, (name, seen)
    # frames takes the options that choose frames, no other pipeline option, declared the same
    frames_pipeline = set(params["frames"]) & PIPELINE_NAMES
    assert frames_pipeline == {*SELECTION_FLAGS, "config"}
    for name in frames_pipeline:
        assert _describe(params["frames"][name]) == _describe(params["ask"][name]), name


def test_executor_options_agree_across_batch_and_eval() -> None:
    batch, ev = _params("batch"), _params("eval")
    for name in EXECUTOR_NAMES | {"progress"}:
        assert _describe(batch[name]) == _describe(ev[name]), name


def test_pipeline_option_defaults_are_unset_and_documented_from_the_config() -> None:
    ask = _params("ask")
    defaults = PipelineConfig()
    switches = {"no_cache", "speech_with_subtitles"}  # on/off flags: False is "not given"
    for name in PIPELINE_NAMES - switches:
        assert ask[name].default is None, name  # unset: --config, else PipelineConfig decides
    for name in switches:
        assert ask[name].default is False, name
    for name, field in (
        ("num_frames", "num_frames"),
        ("max_new_tokens", "max_new_tokens"),
        ("size", "size_px"),
    ):
        assert f"(default {getattr(defaults, field)})" in ask[name].help, name
    assert ask["num_frames"].opts == ["--num-frames", "-n"] and _limit(ask["num_frames"], "min") == 1


def _help_options(command: str) -> set[str]:
    exe = shutil.which("videopipe")
    if exe is None:
        pytest.skip("the videopipe console script is not installed")
    r = subprocess.run([exe, command, "--help"], env=cli_env(COLUMNS="200"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", r.stdout))


def test_installed_cli_help_lists_the_same_pipeline_options() -> None:
    flags = {name: _params("ask")[name] for name in PIPELINE_NAMES}
    expected = {o for p in flags.values() for o in p.opts}
    shown = {c: _help_options(c) for c in (*PIPELINE_COMMANDS, "frames")}
    for command in PIPELINE_COMMANDS:
        assert expected <= shown[command], (command, expected - shown[command])
    selection = {o for name in (*SELECTION_FLAGS, "config") for o in flags[name].opts}
    assert selection <= shown["frames"] and not (expected - selection) & shown["frames"]


@pytest.fixture(scope="module")
def video() -> Path:
    from videopipe.testing.videos import make_video, scenes_video

    return make_video(scenes_video())


def _frames_indices(video: Path, *args: str) -> list[int]:
    res = CliRunner().invoke(app, ["frames", str(video), "--json", *args])
    assert res.exit_code == 0, res.output
    return [f["index"] for f in json.loads(res.stdout)["frames"]]


@pytest.mark.parametrize("sampler", SAMPLERS.names())
def test_frames_previews_the_pipelines_selection(video: Path, sampler: str) -> None:
    flags = ["--sampler", sampler, "-n", "6", "--size", "56", "--model", "fake"]
    cfg = PipelineConfig(model="fake", sampler=sampler, num_frames=6, size_px=56, cache_tokens=False)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    assert decoded.selection is not None
    assert _frames_indices(video, *flags) == list(decoded.selection.indices)


def test_frames_reads_the_same_config_file_as_ask(video: Path, tmp_path: Path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text('[pipeline]\nmodel = "fake"\nsampler = "keyframe"\nnum_frames = 5\nsize_px = 56\n')
    cfg = PipelineConfig.load(toml).with_overrides(cache_tokens=False)
    decoded = Pipeline(config=cfg, load_model=False).select_and_decode(video)
    assert decoded.selection is not None
    assert _frames_indices(video, "--config", str(toml)) == list(decoded.selection.indices)
    # a flag overrides the file, as for ask
    assert len(_frames_indices(video, "--config", str(toml), "-n", "3")) == 3
