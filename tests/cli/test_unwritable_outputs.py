"""Outputs that cannot be written (issue 23, item 8): a directory, a missing or full place,
standard output on /dev/full. Exit 2 and one line naming the option, never an internal error;
a device is written in place, never replaced by a file; an unusable token cache is skipped
with one warning."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_error, cli_env, videopipe_command
from videopipe.cli.outputs import write_output
from videopipe.errors import OutputError

ASK = ("--model", "fake", "-n", "4", "--size", "56")


def _device(path: Path, minor: int) -> Path:
    """A private memory device (1:3 null, 1:7 full): a test that went wrong replaces this
    node, not the system's."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except OSError:
        pytest.skip("cannot make a device node here (not root)")
    return path


@pytest.fixture
def full_device(tmp_path: Path) -> Path:
    return _device(tmp_path / "full", 7)


def _still_a_device(node: Path) -> None:
    assert stat.S_ISCHR(node.stat().st_mode), f"{node} was replaced by a file"


def test_write_output_to_a_full_device_is_an_output_error(full_device: Path) -> None:
    with pytest.raises(OutputError, match=r"--srt .*full: cannot write there \(No space left on device\)"):
        write_output(full_device, "1\n00:00:00,000 --> 00:00:01,000\nhi\n", "--srt")
    _still_a_device(full_device)


def test_write_output_to_a_device_writes_in_place(tmp_path: Path) -> None:
    null = _device(tmp_path / "null", 3)
    write_output(null, "text", "--srt")
    _still_a_device(null)


@pytest.mark.parametrize("where", ["dir", "under-a-file"])
def test_srt_to_a_directory_or_under_a_file(videopipe, video: Path, tmp_path: Path, where: str) -> None:
    (tmp_path / "afile").write_text("x")
    dest = tmp_path if where == "dir" else tmp_path / "afile" / "x.srt"
    assert_one_error(videopipe("transcribe", str(video), "--srt", str(dest)), "--srt", str(dest))


def test_plot_to_a_directory_and_a_full_disk(
    videopipe, video: Path, tmp_path: Path, full_device: Path
) -> None:
    args = ("compare", str(video), "--model", "fake", "-n", "4", "--no-cache", "--plot")
    assert_one_error(videopipe(*args, str(tmp_path)), "--plot", "directory")
    assert not tmp_path.with_suffix(".png").exists()  # matplotlib's own choice of name is not taken
    assert_one_error(videopipe(*args, str(full_device)), "--plot", "No space left")
    _still_a_device(full_device)


def test_batch_out_that_cannot_be_written(videopipe, video: Path, tmp_path: Path, full_device: Path) -> None:
    (tmp_path / "afile").write_text("x")
    base = ("batch", str(video), "-q", "what?", *ASK, "--no-progress", "-o")
    assert_one_error(videopipe(*base, str(tmp_path / "afile" / "r.jsonl")), "r.jsonl", "cannot write")
    assert_one_error(videopipe(*base, str(full_device)), str(full_device))
    _still_a_device(full_device)


def test_frames_out_that_is_a_file(videopipe, video: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert_one_error(
        videopipe("frames", str(video), "-n", "2", "--out", str(tmp_path / "afile")), "--out", "afile"
    )
    assert_one_error(
        videopipe("frames", str(video), "-n", "2", "--out", str(tmp_path / "afile" / "d")), "--out", "afile"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("info", "{video}"),
        ("list",),
        ("frames", "{video}", "-n", "2", "--json"),
        ("ask", "{video}", "x", *ASK),
    ],
)
def test_stdout_on_dev_full(video: Path, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        p = subprocess.run(
            [*videopipe_command(), *(a.format(video=video) for a in args)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            timeout=120,
        )
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 2, p.stderr
    assert lines == ["videopipe: error: cannot write the output to standard output (No space left on device)"]


def test_unusable_token_cache_warns_once_and_answers(videopipe, video: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder belongs")
    r = videopipe("ask", str(video), "what?", *ASK, env=cli_env(VIDEOPIPE_CACHE=str(cache)))
    assert r.returncode == 0, r.stderr
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("videopipe: warning: token cache"), r.stderr
    assert "going on without it" in r.err_lines[0] and r.stdout.strip()


def test_token_cache_full_disk_goes_on(tmp_path: Path, video: Path, monkeypatch) -> None:
    """torch.save reports a full disk as RuntimeError: the pipeline warns and answers."""
    from videopipe.cache import TokenCache
    from videopipe.config import PipelineConfig
    from videopipe.pipeline import CacheWarning, Pipeline

    def full(*args, **kwargs):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(TokenCache, "save", full)
    pipe = Pipeline(config=PipelineConfig(model="fake", num_frames=4, size_px=56, cache_dir=str(tmp_path)))
    with pytest.warns(CacheWarning, match="going on without it"):
        first = pipe.prepare(video, "what?")
    assert len(first.tokens) > 0
    assert pipe._token_cache() is None  # off for the rest of the run: one warning, not one per video


def test_a_full_disk_under_safetensors_is_a_warning_not_a_crash(
    tmp_path: Path, video: Path, monkeypatch
) -> None:
    """safetensors reports a full disk as its own SafetensorError (not an OSError): the token
    cache's write turns it into OSError, so the pipeline warns once, answers, and leaves no
    temporary file behind."""
    import safetensors.torch
    from safetensors import SafetensorError

    from videopipe.config import PipelineConfig
    from videopipe.pipeline import CacheWarning, Pipeline

    def full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half an entry")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    pipe = Pipeline(config=PipelineConfig(model="fake", num_frames=4, size_px=56, cache_dir=str(tmp_path)))
    with pytest.warns(CacheWarning, match="going on without it"):
        first = pipe.prepare(video, "what?")
    assert len(first.tokens) > 0 and pipe._token_cache() is None
    assert not [p for p in (tmp_path / "tokens").rglob("*") if p.is_file()]  # no entry, no temporary file
