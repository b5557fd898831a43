"""A hub id that cannot be served fails at once with one line that says what to do, instead of
huggingface_hub's ~25 s of retries and a screen of retry messages."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env

MODEL = "videopipe-test/no-such-model"


def _refused_endpoint() -> str:
    """A local URL whose port nothing listens on: every connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _one_line(r, *needles: str) -> str:
    assert r.returncode == 2, r.stderr
    assert len(r.err_lines) == 1, r.stderr  # no "Retrying in 1s [Retry 1/5]" lines
    for needle in needles:
        assert needle in r.err_lines[0], r.err_lines[0]
    return r.err_lines[0]


def test_offline_and_not_cached(videopipe, video: Path, tmp_path: Path) -> None:
    env = cli_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    r = videopipe("ask", str(video), "what?", "--model", MODEL, env=env)
    _one_line(r, repr(MODEL), "not in the Hugging Face cache", "HF_HUB_OFFLINE", "--model DIR")


def test_offline_error_comes_before_transformers_is_imported(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from videopipe.errors import ModelError\n"
        "from videopipe.models.facts import read_model_facts\n"
        "try:\n"
        f"    read_model_facts({MODEL!r})\n"
        "except ModelError:\n"
        "    print('TRANSFORMERS', 'transformers' in sys.modules)\n"
    )
    env = cli_env(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "TRANSFORMERS False", r.stdout + r.stderr


def test_unreachable_hub_fails_at_once(videopipe, video: Path, tmp_path: Path) -> None:
    endpoint = _refused_endpoint()
    env = cli_env(HF_HUB_OFFLINE="0", HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"))
    r = videopipe("ask", str(video), "what?", "--model", MODEL, env=env)
    _one_line(r, repr(MODEL), endpoint, "cannot be reached", "connect to the network", "--model DIR")
    # Retrying would sleep through huggingface_hub's back-off (1+2+4+8+8 s = 23 s of sleeps alone,
    # ~27 s in all): a bound above a loaded machine's start-up but under the sleeps tells them apart.
    assert r.seconds < 23, r.seconds


def test_missing_model_directory_is_named_as_a_path(videopipe, video: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "model-dir"
    r = videopipe("ask", str(video), "what?", "--model", str(missing))
    _one_line(r, str(missing), "no such model directory")


@pytest.mark.parametrize("offline", ["0", "1"])
def test_a_cached_model_asks_nothing_of_the_hub(tmp_path: Path, offline: str) -> None:
    repo = tmp_path / "hub" / "models--videopipe-test--cached"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    code = (
        "from videopipe.models.loading import check_hub_access\n"
        "check_hub_access('videopipe-test/cached')\n"
        "print('OK')\n"
    )
    env = cli_env(HF_HUB_OFFLINE=offline, HF_HUB_CACHE=str(tmp_path / "hub"), HF_ENDPOINT=_refused_endpoint())
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "OK", r.stderr
