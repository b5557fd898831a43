"""An index folder is data: nothing ``videopipe-index.json`` (or its copy in a snapshot) names
is imported or called. Only registered embedders are created from it; a custom
``package.module:Class`` the index recorded must be given again by the user (``--embedder``,
or the embedder object in Python). Proven with a marker file (through the installed
executable) and with an audit hook (the Python API)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from videopipe.errors import IndexStoreError
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.store import CONFIG_NAME
from videopipe.testing.cli import run_installed
from videopipe.testing.subtitled import make_tiny_video, write_srt

ROOT = Path(__file__).resolve().parents[2]
CUSTOM = "videopipe.testing.embedders:HashTextEmbedder"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    v = make_tiny_video(tmp_path_factory.mktemp("runs-no-code") / "v.mp4", duration_s=30)
    write_srt(v.with_suffix(".srt"), [(1, 5, "alpha beta gamma"), (22, 26, "delta epsilon")])
    return v


@pytest.fixture(scope="module")
def clean(video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    idx = tmp_path_factory.mktemp("clean") / "idx"
    index_paths([video], idx, IndexOptions(embedder="color", text="subtitles", window_s=10, overlap_s=0))
    return idx


def _tamper(clean: Path, dest: Path, **config: object) -> Path:
    """A copy of ``clean`` whose config (the file and every snapshot's copy) says ``config``."""
    idx = Path(shutil.copytree(clean, dest))
    files = [idx / CONFIG_NAME, *sorted((idx / "snapshots").glob("*.json"))]
    for f in files:
        data = json.loads(f.read_text())
        if "config" in data:
            data["config"].update(config)
            f.write_text(json.dumps(data))
    return idx


def _one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr)
    return lines[0]


@pytest.mark.parametrize(
    "options",
    [{"command": "touch {marker}"}, {"model_id": "touch {marker}"}],
    ids=["unexpected-option", "model-id"],
)
def test_a_tampered_index_runs_nothing(clean: Path, video: Path, tmp_path: Path, options: dict) -> None:
    marker = tmp_path / "MARKER"
    opts = {k: v.format(marker=marker) for k, v in options.items()}
    bad = _tamper(clean, tmp_path / "bad", embedder="os:system", embedder_options=opts)
    for args in (
        ("search", "alpha", "--index", str(bad)),
        ("index", str(video), "--index", str(bad)),
        ("ask", str(video), "what is said?", "--model", "fake", "--retrieve", "1", "--index", str(bad)),
    ):
        line = _one_error_line(run_installed(*args))
        assert CONFIG_NAME in line, line
        assert not marker.exists(), f"{args[0]} ran the command the index folder named"
    if "model_id" in options:  # well-formed options: refused for the embedder it names
        assert "--embedder os:system" in line and "never imports" in line


def test_a_custom_embedder_is_given_by_the_user(video: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    r = run_installed("index", str(video), "--index", str(idx), "--embedder", CUSTOM, "--text", "subtitles")
    assert r.returncode == 0, r.stderr
    assert json.loads((idx / CONFIG_NAME).read_text())["config"]["embedder"] == CUSTOM
    line = _one_error_line(run_installed("search", "alpha beta gamma", "--index", str(idx)))
    assert CONFIG_NAME in line and f"--embedder {CUSTOM}" in line
    r = run_installed("search", "alpha beta gamma", "--index", str(idx), "--embedder", CUSTOM, "-k", "1")
    assert r.returncode == 0 and "alpha beta gamma" in r.stdout, r.stderr
    line = _one_error_line(run_installed("index", str(video), "--index", str(idx)))
    assert f"--embedder {CUSTOM}" in line
    r = run_installed("index", str(video), "--index", str(idx), "--embedder", CUSTOM)
    assert r.returncode == 0 and "1 unchanged" in r.stdout, r.stderr


_AUDITED = """
import os, sys
events = []
TOOLS = ("ffprobe", "ffmpeg", "ldconfig")  # ldconfig: ctypes.util.find_library, as torch loads
def hook(event, args):
    if event in ("os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        events.append((event, repr(args)[:200]))
    elif event == "subprocess.Popen" and os.path.basename(str(args[0])) not in TOOLS:
        events.append((event, repr(args)[:200]))
    elif event == "import" and args[0].split(".")[0] in ("evilmod", "pty", "webbrowser"):
        events.append((event, args[0]))
sys.addaudithook(hook)
"""


def test_the_python_api_imports_and_calls_nothing_an_index_names(
    clean: Path, video: Path, tmp_path: Path
) -> None:
    """Retriever, index_paths and retrieve_clips on index folders that name a module planted
    on the path, ``os:system`` and ``pty:spawn``: an audit hook sees no import of those
    modules, no shell, no process but ffprobe/ffmpeg; every call raises IndexStoreError."""
    plant = tmp_path / "plant"
    plant.mkdir()
    marker = tmp_path / "MARKER"
    (plant / "evilmod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Evil:\n    def __init__(self, **kw):\n"
        f"        open({str(marker)!r}, 'w').close()\n"
    )
    bad = [
        _tamper(clean, tmp_path / f"bad{i}", embedder=spec, embedder_options=opts)
        for i, (spec, opts) in enumerate(
            [("evilmod:Evil", {}), ("os:system", {"model_id": f"touch {marker}"}), ("pty:spawn", {})]
        )
    ]
    script = _AUDITED + textwrap.dedent(f"""
        sys.path.insert(0, {str(plant)!r})
        from videopipe.errors import IndexStoreError
        from videopipe.retrieval.indexer import IndexOptions, index_paths
        from videopipe.retrieval.search import Retriever, retrieve_clips
        refused = 0
        for idx in {[str(b) for b in bad]!r}:
            for call in (
                lambda: Retriever(idx),
                lambda: Retriever(idx, embedder={CUSTOM!r}),  # the user's own: refused by its space
                lambda: index_paths([{str(video)!r}], idx, IndexOptions()),
                lambda: retrieve_clips({str(video)!r}, "alpha", k=1, index_dir=idx, embedder="color"),
            ):
                try:
                    call()
                except IndexStoreError as e:
                    refused += 1
            assert "evilmod" not in sys.modules
        print("refused", refused, "events", events)
        """)
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "refused 12 events []", r.stdout
    assert not marker.exists()


def test_a_user_spec_is_checked_to_be_an_embedder_before_it_is_called(monkeypatch) -> None:
    import types

    from videopipe.errors import ConfigError
    from videopipe.protocols import embedder_factory
    from videopipe.retrieval.resolve import resolve_embedder
    from videopipe.testing.embedders import HashTextEmbedder

    called: list[str] = []
    mod = types.ModuleType("userplugin")

    def undeclared() -> HashTextEmbedder:
        called.append("undeclared")
        return HashTextEmbedder()

    @embedder_factory
    def declared(dim: int = 32) -> HashTextEmbedder:
        return HashTextEmbedder(dim=dim)

    @embedder_factory
    def not_one() -> object:
        return object()

    mod.undeclared, mod.declared, mod.not_one = undeclared, declared, not_one
    monkeypatch.setitem(sys.modules, "userplugin", mod)
    with pytest.raises(ConfigError, match="is a function, not an embedder"):
        resolve_embedder("userplugin:undeclared")
    assert called == []
    name, emb = resolve_embedder("userplugin:declared")
    assert name == "userplugin:declared" and emb.dim == 32
    with pytest.raises(ConfigError, match="made object .* is not an embedder"):
        resolve_embedder("userplugin:not_one")


def test_the_server_refuses_an_index_that_names_code(clean: Path, video: Path, tmp_path: Path) -> None:
    from tests.serve.inprocess import fake_client
    from videopipe.config import PipelineConfig

    marker = tmp_path / "MARKER"
    for i, opts in enumerate(({"command": f"touch {marker}"}, {"model_id": f"touch {marker}"})):
        bad = _tamper(clean, tmp_path / f"bad{i}", embedder="os:system", embedder_options=opts)
        cfg = PipelineConfig(model="fake", device="cpu", cache_dir=str(tmp_path), index_dir=str(bad))
        # the server opens --index at start-up, before it serves a request: it refuses to start
        with pytest.raises(IndexStoreError, match=CONFIG_NAME):
            with fake_client(tmp_path, config=cfg, allow_dirs=(video.parent,)) as c:
                c.post("/v1/search", json={"query": "alpha", "k": 1})
        assert not marker.exists()
