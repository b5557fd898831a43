"""Executor registry and CLI option errors (no workers started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from videopipe.batch.local import LocalExecutor
from videopipe.cli.app import main
from videopipe.config import visible_gpu_count
from videopipe.errors import ConfigError
from videopipe.registry import EXECUTORS


def test_executors_are_registered_lazily() -> None:
    assert EXECUTORS.names() == ["local", "ray"]
    ex = EXECUTORS.create("local", workers=2)
    assert isinstance(ex, LocalExecutor) and ex.describe() == "local: 2 worker(s)"
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        EXECUTORS.create("local", workers=0)
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        EXECUTORS.create("ray", workers=0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--executor", "local", "--address", "auto"], "--address only applies to --executor ray"),
        (["--executor", "dask"], "unknown executor 'dask'; valid names: local, ray"),
        (["--runner", "x:y", "--runner-kwargs", "[1]"], "--runner-kwargs must be a JSON object"),
        (["--prepare", "x:y"], "--prepare needs --runner"),
        # --num-frames is declared once for every command (cli/options.py), limit included
        (["--num-frames", "0"], "Invalid value for '--num-frames' / '-n'"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    code = main(["batch", str(tmp_path), "--out", str(tmp_path / "r.jsonl"), "-q", "q", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_visible_gpu_count_follows_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    assert visible_gpu_count() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,3")
    assert visible_gpu_count() == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpu_count() == 0


def test_a_bad_value_from_config_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "p.toml").write_text("[pipeline]\nnum_frames = 0\n")
    args = ["batch", str(tmp_path), "--out", str(tmp_path / "r.jsonl"), "-q", "q"]
    assert main([*args, "--config", str(tmp_path / "p.toml")]) == 2
    assert "num_frames must be >= 1" in capsys.readouterr().err
