"""The index store over a folder: add, re-add, modify, delete, crash, kill + resume, concurrent
readers. Uses the deterministic hash embedder (vectors are a function of the clip text), so
every stored vector can be checked against the text it claims to hold."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from videopipe.errors import IndexStoreError
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.search import Retriever
from videopipe.retrieval.segment import fixed_windows
from videopipe.retrieval.store import IndexStore
from videopipe.testing.embedders import HashTextEmbedder, hash_vector
from videopipe.testing.subtitled import srt_text
from videopipe.text.subtitles import parse_subtitles, text_for_span

ROOT = Path(__file__).resolve().parents[2]
COLORS = [
    "red",
    "green",
    "blue",
    "yellow",
    "cyan",
    "magenta",
    "white",
    "gray",
    "orange",
    "purple",
    "pink",
    "brown",
]
SLOW = "videopipe.testing.embedders:SlowHashTextEmbedder"


def _cues(name: str, duration_s: float) -> list[tuple[float, float, str]]:
    return [(t, t + 2.0, f"{name} says line {k}") for k, t in enumerate(np.arange(3.0, duration_s - 2, 17.0))]


@pytest.fixture(scope="module")
def folder_template(tiny_video, write_srt, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("template") / "videos"
    for i, color in enumerate(COLORS[:8]):
        v = tiny_video(d / f"v{i:02d}.mp4", duration_s=60, color=color)
        write_srt(v.with_suffix(".srt"), _cues(f"video{i}", 60))
    return d


@pytest.fixture
def folder(folder_template: Path, tmp_path: Path) -> Path:
    """8 distinct 60 s videos with subtitle sidecars (a fresh copy per test)."""
    return Path(shutil.copytree(folder_template, tmp_path / "videos"))


def _rows(index_dir: Path) -> list[tuple[str, float, float, str]]:
    snap = IndexStore(index_dir).open_snapshot()
    return sorted(
        (snap.video_of_row(r), float(snap.starts_s[r]), float(snap.ends_s[r]), snap.texts[r])
        for r in range(len(snap))
    )


def _assert_consistent(index_dir: Path) -> int:
    """Every row's vector is the hash of its text; rows are unique; counts match the manifest."""
    snap = IndexStore(index_dir).open_snapshot()
    assert len(snap) == sum(e.n_clips for e in snap.entries)
    keys = [(snap.video_of_row(r), float(snap.starts_s[r])) for r in range(len(snap))]
    assert len(keys) == len(set(keys)), "duplicate clips"
    for r in range(len(snap)):
        assert np.allclose(snap.vectors[r], hash_vector(snap.texts[r], snap.config.dim), atol=1e-6)
    return len(snap)


def test_add_readd_modify_delete(folder: Path, tiny_video, write_srt, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    emb = HashTextEmbedder()
    r1 = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert (r1.videos, r1.embedded, r1.failed) == (8, 8, {})
    assert emb.calls == 8
    n = _assert_consistent(idx)
    cues = parse_subtitles(srt_text(_cues("x", 60)))
    per_video = sum(bool(text_for_span(cues, w.start_s, w.end_s)) for w in fixed_windows(60.0))
    assert n == r1.total_clips == 8 * per_video  # one row per window holding a cue
    before = _rows(idx)

    # re-add: nothing re-embedded, nothing changed
    r2 = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert emb.calls == 8 and (r2.unchanged, r2.embedded) == (8, 0)
    assert _rows(idx) == before

    # touch one file (mtime changes, content does not): re-hashed, not re-embedded
    os.utime(folder / "v03.mp4", ns=(1, 1))
    r3 = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert emb.calls == 8 and r3.touched == 1

    # modify one video (new content, new subtitles): only it is re-embedded
    tiny_video(folder / "v05.mp4", duration_s=45, color="black")
    write_srt(folder / "v05.srt", [(10, 12, "a completely new line")])
    r4 = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert emb.calls == 9 and r4.embedded == 1 and r4.unchanged + r4.touched == 7
    rows = _rows(idx)
    v05 = [r for r in rows if r[0].endswith("v05.mp4")]
    assert {r[3] for r in v05} == {"a completely new line"}
    assert [r for r in rows if not r[0].endswith("v05.mp4")] == [
        b for b in before if not b[0].endswith("v05.mp4")
    ]

    # editing only the sidecar re-embeds that video too (its text is its content)
    write_srt(folder / "v06.srt", [(1, 2, "edited subtitle")])
    index_paths([folder], idx, IndexOptions(embedder=emb))
    assert emb.calls == 10 and {r[3] for r in _rows(idx) if r[0].endswith("v06.mp4")} == {"edited subtitle"}

    # delete one: its clips are gone, search never returns it
    (folder / "v02.mp4").unlink()
    r5 = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert r5.removed == 1 and emb.calls == 10
    assert not [r for r in _rows(idx) if r[0].endswith("v02.mp4")]
    hits = Retriever(idx, embedder=emb).search("video2 says line 1", 50)
    assert hits and all(not h.video.endswith("v02.mp4") for h in hits)
    _assert_consistent(idx)
    # only the files the kept snapshots reference are left on disk
    segs = {p.stem for p in (idx / "segments").iterdir()}
    assert segs <= {e.key for v in range(1, IndexStore(idx).current_version() + 1) for e in _manifest(idx, v)}


def _manifest(idx: Path, v: int):
    from videopipe.retrieval.store import FileEntry

    p = idx / "snapshots" / f"{v:08d}.json"
    return [FileEntry.from_dict(e) for e in json.loads(p.read_text())["entries"]] if p.exists() else []


def test_search_returns_the_clip_holding_the_text(folder: Path, tmp_path: Path) -> None:
    emb = HashTextEmbedder()
    index_paths([folder], tmp_path / "idx", IndexOptions(embedder=emb))
    hits = Retriever(tmp_path / "idx", embedder=emb).search("video4 says line 2", 3)
    assert hits[0].video.endswith("v04.mp4") and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].start_s <= 3 + 17 * 2 < hits[0].end_s


def test_crash_during_commit_keeps_the_previous_snapshot(folder: Path, tmp_path: Path, monkeypatch) -> None:
    idx = tmp_path / "idx"
    emb = HashTextEmbedder()
    index_paths([folder], idx, IndexOptions(embedder=emb))
    before, version = _rows(idx), IndexStore(idx).current_version()
    (folder / "v01.mp4").unlink()

    import videopipe.retrieval.store.atomic as store_mod

    real_replace = os.replace

    def crash_on_current(src, dst):
        if str(dst).endswith("CURRENT"):
            raise OSError("simulated crash while switching CURRENT")
        return real_replace(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", crash_on_current)
    with pytest.raises(OSError, match="simulated crash"):
        index_paths([folder], idx, IndexOptions(embedder=emb))
    monkeypatch.setattr(store_mod.os, "replace", real_replace)
    assert IndexStore(idx).current_version() == version and _rows(idx) == before
    assert not [p for p in idx.iterdir() if ".tmp-" in p.name]  # the temp file was cleaned up
    r = index_paths([folder], idx, IndexOptions(embedder=emb))  # and the next run completes the change
    assert r.removed == 1 and not [x for x in _rows(idx) if x[0].endswith("v01.mp4")]


def test_index_refuses_a_directory_that_is_not_an_index(folder: Path) -> None:
    with pytest.raises(IndexStoreError, match="not empty and not a videopipe index"):
        # --index pointed at the videos
        index_paths([folder], folder, IndexOptions(embedder=HashTextEmbedder()))
    assert not (folder / "snapshots").exists()


def test_writers_exclude_each_other(folder: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    idx = tmp_path / "idx"
    index_paths([folder], idx, IndexOptions(embedder=HashTextEmbedder()))
    with FileLock(str(idx / "write.lock")):
        with pytest.raises(IndexStoreError, match="being written by another process"):
            index_paths([folder], idx, IndexOptions(embedder=HashTextEmbedder()), lock_timeout_s=0.2)


def _index_cmd(folder: Path, idx: Path) -> list[str]:
    return [sys.executable, "-m", "videopipe", "index", str(folder), "--index", str(idx), "--embedder", SLOW]


def test_kill_mid_index_then_resume(tiny_video, write_srt, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i, color in enumerate(COLORS):
        v = tiny_video(folder / f"m{i:02d}.mp4", duration_s=40, color=color)
        write_srt(v.with_suffix(".srt"), _cues(f"movie{i}", 40))
    idx = tmp_path / "idx"
    cmd = [*_index_cmd(folder, idx), "--commit-every", "2", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = IndexStore(idx)
    deadline = time.monotonic() + 240
    while store.current_version() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    committed = {e.path for e in store.read_entries()}
    # killed after >= 2 commits (every 2 videos, or every 30 s on a loaded machine), before the end
    assert 2 <= len(committed) < len(COLORS)
    _assert_consistent(idx)

    emb = HashTextEmbedder()  # same space as the slow one
    report = index_paths([folder], idx, IndexOptions(embedder=emb))
    assert report.unchanged == len(committed)  # nothing committed is redone
    assert report.embedded + report.reused == len(COLORS) - len(committed)
    assert emb.calls == report.embedded
    n = _assert_consistent(idx)

    fresh = tmp_path / "fresh"
    index_paths([folder], fresh, IndexOptions(embedder=HashTextEmbedder()))
    assert _rows(idx) == _rows(fresh) and n == len(_rows(fresh))  # nothing lost, nothing doubled


def test_reader_sees_consistent_snapshots_while_a_writer_commits(folder: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    index_paths([folder], idx, IndexOptions(embedder=HashTextEmbedder()), commit_every=1)
    (folder / "v00.mp4").unlink()
    for i in range(8):  # change every remaining sidecar: the writer re-embeds and commits 7 times
        srt = folder / f"v{i:02d}.srt"
        if srt.exists() and i:
            srt.write_text(srt.read_text().replace("says", "now says"))
    proc = subprocess.Popen(
        [*_index_cmd(folder, idx), "--commit-every", "1", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: set[int] = set()
    errors: list[BaseException] = []

    def read_loop() -> None:
        while proc.poll() is None:
            try:
                snap = IndexStore(idx).open_snapshot()
                seen.add(snap.version)
                _assert_consistent(idx)
                assert len(snap) == sum(e.n_clips for e in snap.entries)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)
                return

    t = threading.Thread(target=read_loop)
    t.start()
    t.join(timeout=300)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert not errors, errors[0]
    assert len(seen) >= 2  # the reader really overlapped with several commits
    rows = _rows(idx)
    assert (
        rows and all("now says" in r[3] for r in rows) and not [r for r in rows if r[0].endswith("v00.mp4")]
    )


class _Captioner:
    name = "fake-captioner@1"

    def __call__(self, video: Path, spans: list) -> list[str]:
        return [f"{video.stem} shows scene {s.start_s:g}" for s in spans]


def test_captioner_hook_adds_captions_to_clip_texts(tiny_video, write_srt, tmp_path: Path) -> None:
    d = tmp_path / "v"
    a = tiny_video(d / "a.mp4", duration_s=30, color="red")
    write_srt(a.with_suffix(".srt"), [(2, 4, "spoken words")])
    tiny_video(d / "b.mp4", duration_s=30, color="blue")  # no subtitles at all
    idx = tmp_path / "idx"
    report = index_paths([d], idx, IndexOptions(embedder=HashTextEmbedder(), captioner=_Captioner()))
    assert report.without_clips == []  # captions give the silent video text too
    rows = _rows(idx)
    assert ("%s" % (d / "a.mp4"), 0.0, 20.0, "spoken words a shows scene 0") in rows
    assert [r[3] for r in rows if r[0].endswith("b.mp4")] == ["b shows scene 0", "b shows scene 15"]
    _assert_consistent(idx)
    assert IndexStore(idx).config().captioner == "fake-captioner@1"
    with pytest.raises(IndexStoreError, match="captioner"):
        index_paths([d], idx, IndexOptions(embedder=HashTextEmbedder()))
