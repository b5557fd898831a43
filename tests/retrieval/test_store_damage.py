"""Damaged index folders: every missing, truncated or malformed index file is detected
(``search`` exits 2 with one line naming the file and the repairing command, never "no hits"
while clips are on disk), and ``index`` run again on the folder repairs it: it re-embeds only
what was lost, keeps the intact segments, reports what it repaired, and the repaired index
answers exactly like a clean build. Also: one video that raises anything does not abort a run.

Videos: four 8 s generated videos, each with one flat colour scene; embedder ``color``
(deterministic), 2 s clips, so every video has 4 clip vectors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import videopipe.retrieval.video_work as video_work_mod
from videopipe.errors import DecodeError
from videopipe.retrieval.indexer import IndexOptions, failure_message, index_paths
from videopipe.retrieval.search import Retriever
from videopipe.retrieval.store import IndexDamageError, IndexStore
from videopipe.testing.cli import run_installed
from videopipe.testing.videos import make_video, scenes_video

ROOT = Path(__file__).resolve().parents[2]
COLORS = ("red", "green", "blue", "yellow")
QUERIES = ("a red screen", "green", "blue screen", "yellow")
OPTIONS = IndexOptions(embedder="color", window_s=2, overlap_s=0, frames_per_clip=3)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("damage") / "videos"
    d.mkdir()
    for i, color in enumerate(COLORS):
        src = make_video(scenes_video((50, 50, 50, 50), seed=10 + i, needle=(i, color)))
        shutil.copy(src, d / f"{color}.mp4")
    return d


def _results(index_dir: Path) -> list[list[tuple[str, float, float, float]]]:
    r = Retriever(index_dir)
    return [[(h.video, h.start_s, h.end_s, h.score) for h in r.search(q, 8)] for q in QUERIES]


def _assert_same_results(got: list, want: list) -> None:
    assert [[h[:3] for h in q] for q in got] == [[h[:3] for h in q] for q in want]
    assert np.allclose([h[3] for q in got for h in q], [h[3] for q in want for h in q], atol=1e-5)


@pytest.fixture(scope="module")
def clean(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A clean index of ``videos`` and its search results (never modified: tests copy it)."""
    idx = tmp_path_factory.mktemp("clean") / "idx"
    report = index_paths([videos], idx, OPTIONS)
    assert (report.embedded, report.total_clips, report.failed) == (4, 16, {})
    return idx, _results(idx)


@pytest.fixture
def damaged(clean: tuple[Path, list], tmp_path: Path) -> Path:
    """A fresh copy of the clean index (file times kept) to damage."""
    return Path(shutil.copytree(clean[0], tmp_path / "idx"))


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the videos the indexer embeds (decodes + embeds) from now on."""
    seen: list[str] = []
    real = video_work_mod.embed_clips

    def counting(video, *args, **kwargs):
        seen.append(Path(video).name)
        return real(video, *args, **kwargs)

    monkeypatch.setattr(video_work_mod, "embed_clips", counting)
    return seen


def _segment_of(idx: Path, video: str) -> Path:
    entry = next(e for e in IndexStore(idx).read_entries() if Path(e.path).name == video)
    return idx / "segments" / f"{entry.key}.npz"


def _segment_times(idx: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (idx / "segments").iterdir()}


def _truncate(path: Path, size: int = 100) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _wrong_shape_segment(idx: Path) -> None:
    path = _segment_of(idx, "blue.mp4")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["vectors"] = arrays["vectors"][:, :3]  # another dimension than the index's
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _malformed_entry(idx: Path) -> None:
    p = idx / "snapshots" / "00000001.json"
    data = json.loads(p.read_text())
    data["entries"][1]["n_clips"] = "four"
    _write(p, json.dumps(data))


def _no_snapshot(idx: Path) -> None:
    (idx / "CURRENT").unlink()
    shutil.rmtree(idx / "snapshots")


def _non_finite_segment(idx: Path) -> None:
    path = _segment_of(idx, "green.mp4")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["vectors"][1] = np.nan  # the clip would never be found, nor its video
    arrays["vectors"][2, 0] = np.inf
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _replaced_by_a_directory(name: str) -> Callable[[Path], None]:
    def replace(idx: Path) -> None:
        p = idx / name
        p.unlink()
        p.mkdir()
        (p / "something").write_text("x")

    return replace


def _edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(idx: Path) -> None:
        p = idx / "videopipe-index.json"
        data = json.loads(p.read_text())
        data["config"].update(changes)
        _write(p, json.dumps(data))

    return edit


# name: (damage, what the error names, the videos `index` must re-embed)
CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...], set[str]]] = {
    "truncated segment": (
        lambda d: _truncate(_segment_of(d, "green.mp4")),
        ("segments/", "green.mp4", "truncated"),
        {"green.mp4"},
    ),
    "deleted segment": (
        lambda d: _segment_of(d, "red.mp4").unlink(),
        ("segments/", "red.mp4", "is missing"),
        {"red.mp4"},
    ),
    "wrong-shape segment": (_wrong_shape_segment, ("segments/", "blue.mp4", "shape"), {"blue.mp4"}),
    "truncated manifest": (
        lambda d: _truncate(d / "snapshots" / "00000001.json", 50),
        ("snapshots/00000001.json", "not valid JSON"),
        set(),
    ),
    "malformed manifest (valid JSON, wrong shape)": (
        lambda d: _write(d / "snapshots" / "00000001.json", '{"format": 1, "entries": 5}'),
        ("snapshots/00000001.json", "not a snapshot manifest"),
        set(),
    ),
    "malformed manifest entry": (_malformed_entry, ("snapshots/00000001.json", "n_clips"), set()),
    "deleted CURRENT": (lambda d: (d / "CURRENT").unlink(), ("CURRENT", "is missing"), set()),
    "garbage in CURRENT": (lambda d: _write(d / "CURRENT", "garbage\n"), ("CURRENT", "'garbage'"), set()),
    "CURRENT names a missing snapshot": (
        lambda d: _write(d / "CURRENT", "7\n"),
        ("snapshots/00000007.json", "is missing"),
        set(),
    ),
    "no snapshot, segments on disk": (_no_snapshot, ("CURRENT", "no snapshot was committed"), set()),
    "deleted config": (
        lambda d: (d / "videopipe-index.json").unlink(),
        ("videopipe-index.json", "is missing"),
        set(),
    ),
    "malformed config": (
        lambda d: _write(d / "videopipe-index.json", '{"format": 1, "config": {"dim": 7}}'),
        ("videopipe-index.json", "malformed config"),
        set(),
    ),
    "config field of the wrong type": (
        _edit_config(text_key=123),
        ("videopipe-index.json", "malformed config", "text_key = 123"),
        set(),
    ),
    "config changed after the index was built": (
        _edit_config(space="other", dim=5),
        ("videopipe-index.json", "differs from the copy in snapshots/00000001.json"),
        set(),
    ),
    "CURRENT holds a 5,000-digit number": (
        lambda d: _write(d / "CURRENT", "9" * 5000 + "\n"),
        ("CURRENT", "not a snapshot version"),
        set(),
    ),
    "snapshot replaced by a directory": (
        _replaced_by_a_directory("snapshots/00000001.json"),
        ("snapshots/00000001.json", "is a directory"),
        set(),
    ),
    "CURRENT replaced by a directory": (
        _replaced_by_a_directory("CURRENT"),
        ("CURRENT", "is a directory"),
        set(),
    ),
    "config replaced by a directory": (
        _replaced_by_a_directory("videopipe-index.json"),
        ("videopipe-index.json", "is a directory"),
        set(),
    ),
    "NaN and inf vectors in a segment": (
        _non_finite_segment,
        ("segments/", "green.mp4", "non-finite"),
        {"green.mp4"},
    ),
}
SUBPROCESS = {
    "truncated segment",
    "deleted CURRENT",
    "truncated manifest",
    "deleted config",
    "config field of the wrong type",
    "CURRENT holds a 5,000-digit number",
}


def _videopipe(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as users run it (this worktree's code first on the path)."""
    return run_installed(*args)


def _search_in_process(capsys: pytest.CaptureFixture, idx: Path) -> tuple[int, str, str]:
    from videopipe.cli.app import main

    code = main(["search", "red", "--index", str(idx)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("case", list(CASES))
def test_damage_is_reported_then_repaired(
    case: str,
    videos: Path,
    clean: tuple[Path, list],
    damaged: Path,
    embedded: list[str],
    capsys: pytest.CaptureFixture,
) -> None:
    damage, names, lost = CASES[case]
    before = _segment_times(damaged)
    damage(damaged)

    # search: exit 2, one line naming the index, the damaged file, the problem and the fix
    if case in SUBPROCESS:
        r = _videopipe("search", "red", "--index", str(damaged))
        code, out, err = r.returncode, r.stdout, r.stderr
    else:
        code, out, err = _search_in_process(capsys, damaged)
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err
    assert f"index {damaged} is damaged" in err
    for name in names:
        assert name in err, (name, err)
    assert f"--index {damaged}` on the same folder to repair it" in err
    with pytest.raises(IndexDamageError):
        Retriever(damaged)

    # index: repairs, re-embeds only what was lost, says what it repaired
    if case in SUBPROCESS:
        r = _videopipe("index", str(videos), "--index", str(damaged), "--json", "--quiet")
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["embedded"] == len(lost)  # (another process: counted from its report)
    else:
        report = index_paths([videos], damaged).to_dict()
        assert sorted(embedded) == sorted(lost)
    assert report["failed"] == {} and report["total_clips"] == 16
    assert report["repaired"], report
    assert any(names[0] in line for line in report["repaired"]), report["repaired"]

    # intact segments were kept as they were (not rewritten, not re-embedded)
    lost_keys = {e.key + ".npz" for e in IndexStore(clean[0]).read_entries() if Path(e.path).name in lost}
    after = _segment_times(damaged)
    assert {k: v for k, v in after.items() if k not in lost_keys} == {
        k: v for k, v in before.items() if k not in lost_keys
    }
    assert set(after) == set(before)

    # the repaired index answers like a clean build, and is healed for good
    _assert_same_results(_results(damaged), clean[1])
    again = index_paths([videos], damaged)
    assert (again.repaired, again.unchanged, again.embedded) == ([], 4, 0)


def test_repair_line_in_the_cli_summary(videos: Path, damaged: Path, capsys: pytest.CaptureFixture) -> None:
    from videopipe.cli.app import main

    _truncate(_segment_of(damaged, "yellow.mp4"))
    code = main(["index", str(videos), "--index", str(damaged), "--quiet"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "1 embedded" in out[0] and "repaired 1 damaged file(s)" in out[0]
    assert len(out) == 2 and out[1].startswith("repaired: segments/") and "yellow.mp4" in out[1]


def test_a_permanent_problem_is_not_retried(damaged: Path) -> None:
    """A segment missing while CURRENT still names its snapshot is damage, reported at once
    (it used to be retried 20 times, then "could not read a consistent snapshot; retry")."""
    _segment_of(damaged, "red.mp4").unlink()
    t0 = time.monotonic()
    with pytest.raises(IndexDamageError, match="red.mp4") as e:
        IndexStore(damaged).open_snapshot()
    assert time.monotonic() - t0 < 0.5
    assert e.value.file.startswith("segments/") and e.value.problem.endswith("is missing")


def test_a_segment_collected_under_a_slow_reader_is_retried(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the retry loop is for: the reader read version 1, a writer committed version 2
    and collected a segment only version 1 used; the reader starts over and gets version 2."""
    folder = Path(shutil.copytree(videos, tmp_path / "videos"))
    idx = tmp_path / "idx"
    index_paths([folder], idx, OPTIONS)
    store = IndexStore(idx)
    v1 = store.manifest(1)
    (folder / "red.mp4").unlink()
    index_paths([folder], idx)  # version 2, without red.mp4
    (red,) = [e for e in v1.entries if e.path.endswith("red.mp4")]
    (idx / "segments" / f"{red.key}.npz").unlink()
    calls = []
    real = IndexStore.committed

    def stale_first(self, **kw):
        calls.append(1)
        return v1 if len(calls) == 1 else real(self, **kw)

    monkeypatch.setattr(IndexStore, "committed", stale_first)
    snap = store.open_snapshot()
    assert len(calls) == 2 and snap.version == store.current_version() == 2 and len(snap) == 12


def test_empty_index_is_still_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """No CURRENT, no snapshot, no segment: nothing was ever indexed -- no hits, exit 0."""
    from videopipe.registry import EMBEDDERS
    from videopipe.retrieval.store import IndexConfig

    emb = EMBEDDERS.create("color")
    cfg = IndexConfig(
        embedder="color",
        space=str(emb.space),
        dim=int(emb.dim),
        segmentation="fixed:w2:o0",
        window_s=2.0,
        overlap_s=0.0,
    )
    idx = tmp_path / "idx"
    with IndexStore(idx).writer(cfg):
        pass
    code, out, err = _search_in_process(capsys, idx)
    assert (code, out.strip(), err) == (0, "no hits (the index is empty)", "")


def test_no_hits_in_a_full_index_does_not_say_empty(clean: tuple[Path, list], tmp_path: Path, capsys) -> None:
    from videopipe.cli.app import main

    other = tmp_path / "other.mp4"
    assert main(["search", "red", "--index", str(clean[0]), "--video", str(other)]) == 0
    assert capsys.readouterr().out.strip() == f"no hits ({other} has no clips in this index)"


def test_a_config_without_copy_is_not_silently_replaced(videos: Path, damaged: Path) -> None:
    """An index written before snapshots carried the config, with the config lost: the embedder
    and clip options are unknown, so `index` refuses (instead of writing the defaults)."""
    for p in (damaged / "snapshots").iterdir():
        data = json.loads(p.read_text())
        del data["config"]
        _write(p, json.dumps(data))
    (damaged / "videopipe-index.json").unlink()
    with pytest.raises(IndexDamageError, match="into a new --index directory") as e:
        IndexStore(damaged).open_snapshot()
    assert e.value.file == "videopipe-index.json"
    with pytest.raises(IndexDamageError, match="options of this index are lost"):
        index_paths([videos], damaged)
    assert not (damaged / "videopipe-index.json").exists()


def test_damaged_faiss_file(videos: Path, tmp_path: Path, embedded: list[str]) -> None:
    idx = tmp_path / "idx"
    index_paths([videos], idx, OPTIONS, index_type="hnsw")
    want = _results(idx)
    (faiss_file,) = (idx / "faiss").iterdir()
    _truncate(faiss_file, 64)
    with pytest.raises(IndexDamageError, match="cannot be read by FAISS") as e:
        _results(idx)
    assert e.value.file == f"faiss/{faiss_file.name}"
    embedded.clear()
    report = index_paths([videos], idx, index_type="hnsw")
    assert embedded == [] and report.repaired == [f"faiss/{faiss_file.name} {e.value.problem}: rebuilt"]
    _assert_same_results(_results(idx), want)


def test_lost_clips_of_a_video_outside_the_given_paths(
    videos: Path, tmp_path: Path, embedded: list[str]
) -> None:
    """Two folders in one index, repaired by indexing one of them: the other folder's video
    whose clips were lost is re-embedded from its recorded path; one that is gone is dropped."""
    a = Path(shutil.copytree(videos, tmp_path / "a"))
    b = tmp_path / "b"
    b.mkdir()
    for name in ("red.mp4", "green.mp4"):
        (a / name).rename(b / name)
    idx = tmp_path / "idx"
    index_paths([a], idx, OPTIONS)
    index_paths([b], idx)
    want = _results(idx)
    _truncate(_segment_of(idx, "red.mp4"))
    embedded.clear()
    report = index_paths([a], idx)
    assert embedded == ["red.mp4"] and report.failed == {} and report.total_clips == 16
    _assert_same_results(_results(idx), want)

    _segment_of(idx, "green.mp4").unlink()
    (b / "green.mp4").unlink()
    report = index_paths([a], idx)
    assert f"{b / 'green.mp4'}: dropped (its clips were lost and the video is gone)" in report.repaired
    assert report.total_clips == 12 and str(b / "green.mp4") not in {h[0] for q in _results(idx) for h in q}


def test_a_failed_write_is_one_line_and_keeps_the_last_commit(
    videos: Path, clean: tuple[Path, list], damaged: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import errno

    import videopipe.retrieval.store.atomic as store_mod
    from videopipe.cli.app import main

    real_replace = os.replace

    def disk_full(src, dst):
        if str(dst).endswith("CURRENT"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    _segment_of(damaged, "red.mp4").unlink()  # so that the run has something to commit
    monkeypatch.setattr(store_mod.os, "replace", disk_full)
    code = main(["index", str(videos), "--index", str(damaged), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err
    assert f"cannot write {damaged / 'CURRENT'} (OSError: [Errno 28] No space left on device)" in err
    monkeypatch.setattr(store_mod.os, "replace", real_replace)
    assert IndexStore(damaged).current_version() == 1 and not list(damaged.glob("CURRENT.tmp-*"))
    index_paths([videos], damaged)
    _assert_same_results(_results(damaged), clean[1])


# ----------------------------------------------------------------------------------------
# One bad video does not abort a run
# ----------------------------------------------------------------------------------------
def test_a_video_raising_anything_is_one_failure(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    folder = Path(shutil.copytree(videos, tmp_path / "videos"))
    (folder / "notes.mp4").write_text("not a video at all\n")  # ffprobe fails on it (DecodeError)
    real = video_work_mod.embed_clips

    def buggy(video, *args, **kwargs):
        if Path(video).name == "blue.mp4":
            raise KeyError("a bug in a plugin")  # not a VideoPipeError
        return real(video, *args, **kwargs)

    from videopipe.cli import common
    from videopipe.cli.app import main

    monkeypatch.setattr(video_work_mod, "embed_clips", buggy)
    monkeypatch.setattr(common.STATE, "debug", False)  # restored after main(["--debug", ...])

    idx = tmp_path / "idx"
    code = main(["--debug", "index", str(folder), "--index", str(idx), "--quiet", *_cli_options()])
    out, err = capsys.readouterr()
    assert code == 1  # the run finished; some videos failed
    assert "3 embedded" in out and "2 failed" in out
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    blue, notes = str(folder / "blue.mp4"), str(folder / "notes.mp4")
    assert failed[0] == f"failed: {blue}: KeyError: 'a bug in a plugin'"
    assert failed[1].startswith(f"failed: {notes}") and failed[1].count(notes) == 1
    assert "@ 0x" not in failed[1]
    assert "Traceback" in err and "a bug in a plugin" in err  # --debug shows the traceback
    snap = IndexStore(idx).open_snapshot()
    assert sorted(Path(e.path).name for e in snap.entries) == ["green.mp4", "red.mp4", "yellow.mp4"]

    monkeypatch.setattr(video_work_mod, "embed_clips", real)
    report = index_paths([folder], idx)  # without the bug: the rest is unchanged, blue is added
    assert report.failed_types == {notes: "DecodeError"} and report.unchanged == 3 and report.embedded == 1
    assert "\n" not in report.failed[notes] and "tracebacks" not in report.to_dict()


def _cli_options() -> list[str]:
    return ["--embedder", "color", "--window-s", "2", "--overlap-s", "0", "--frames-per-clip", "3"]


def test_failure_message_is_one_line_naming_the_file_once() -> None:
    v = Path("/videos/a b.mp4")
    e = DecodeError(
        f"{v} is not a readable video (ffprobe: [mov,mp4,m4a,3gp,3g2,mj2 @ 0x562421a3a840] moov atom "
        f"not found\n{v}: Invalid data found when processing input)"
    )
    assert failure_message(v, e) == (
        f"{v} is not a readable video (ffprobe: moov atom not found; Invalid data found when processing input)"
    )
    assert failure_message(v, RuntimeError("boom\n\nboom")) == f"{v}: RuntimeError: boom"
    assert failure_message(v, ValueError(f"{v} broke; see {v}")) == f"ValueError: {v} broke; see a b.mp4"
    assert len(failure_message(v, OSError("x" * 2000))) == 500
