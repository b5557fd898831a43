"""Options that used to be ignored without a word (issue 23, item 7): an explicit --retrieve
that cannot work, an unknown --backend on a cached video, NaN and infinity as numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_error, cli_env
from videopipe.errors import ConfigError
from videopipe.validate import in_range, positive

ASK = ("--model", "fake", "-n", "4", "--size", "56")


def test_retrieve_with_text_none_is_an_error(videopipe, video: Path) -> None:
    r = videopipe("ask", str(video), "what?", *ASK, "--retrieve", "2", "--text", "none", "--no-cache")
    assert_one_error(r, "--retrieve", "--text none")


def test_retrieve_with_a_missing_index_is_an_error(videopipe, video: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-index"
    r = videopipe("ask", str(video), "what?", *ASK, "--retrieve", "2", "--index", str(missing))
    assert_one_error(r, str(missing), "videopipe-index.json")


def test_retrieve_that_finds_nothing_says_so(videopipe, video: Path) -> None:
    # the clip has no subtitles: the text embedder has nothing to match
    r = videopipe("ask", str(video), "what?", *ASK, "--retrieve", "2", "--text", "subtitles", "--no-cache")
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.err_lines if line.startswith("videopipe: warning: ")]
    assert len(warnings) == 1 and "sampling the whole video" in warnings[0], r.stderr


def test_unknown_backend_fails_also_when_tokens_are_cached(videopipe, video: Path, tmp_path: Path) -> None:
    env = cli_env(VIDEOPIPE_CACHE=str(tmp_path / "cache"))
    assert videopipe("ask", str(video), "what?", *ASK, env=env).returncode == 0  # fills the cache
    assert_one_error(
        videopipe("ask", str(video), "what?", *ASK, "--backend", "nope", env=env), "nope", "pyav"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["batch", "{video}", "-q", "x", "-o", "{tmp}/r.jsonl", "--task-timeout-s", "nan"],
        ["batch", "{video}", "-q", "x", "-o", "{tmp}/r.jsonl", "--task-timeout-s", "inf"],
        ["ask", "{video}", "x", *ASK, "--compressor", "segment_merge[pair_threshold=nan]"],
        ["ask", "{video}", "x", *ASK, "--compressor", "progressive[per_frame_budget=inf]"],
        ["index", "{video}", "--index", "{tmp}/ix", "--window-s", "nan"],
        ["compare", "{video}", "--model", "fake", "--events", "nan-nan"],
    ],
)
def test_nan_and_inf_are_refused(videopipe, video: Path, tmp_path: Path, args: list[str]) -> None:
    assert_one_error(videopipe(*[a.format(video=video, tmp=tmp_path) for a in args]))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_validators_refuse_non_finite(value: float) -> None:
    with pytest.raises(ConfigError, match="finite"):
        positive("x", value)
    with pytest.raises(ConfigError, match="finite"):
        in_range("x", value, 0, 1)
