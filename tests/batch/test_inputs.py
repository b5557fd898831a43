"""Batch inputs: folders, list files, manifests, questions, ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videopipe.batch.inputs import group_by_video, load_jobs, read_questions
from videopipe.batch.jobs import JobSpec, job_id
from videopipe.errors import ConfigError, InputError


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_folder_is_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    for name in ("b.mp4", "a.MKV", "sub/c.mp4", "sub/deep/d.webm", "notes.txt", ".hidden.mp4"):
        _touch(tmp_path / name)
    jobs = load_jobs(tmp_path, questions=["q"])
    names = [Path(j.video).relative_to(tmp_path).as_posix() for j in jobs]
    assert names == ["a.MKV", "b.mp4", "sub/c.mp4", "sub/deep/d.webm"]
    assert all(Path(j.video).is_absolute() for j in jobs)
    only_mp4 = load_jobs(tmp_path, questions=["q"], glob="*.mp4")
    assert [Path(j.video).name for j in only_mp4] == ["b.mp4", "c.mp4"]


def test_questions_multiply_jobs_and_ids_are_stable(tmp_path: Path) -> None:
    _touch(tmp_path / "v.mp4")
    jobs = load_jobs(tmp_path, questions=["what?", "who?"])
    assert [j.question for j in jobs] == ["what?", "who?"]
    assert jobs[0].id == job_id(jobs[0].video, "what?") != jobs[1].id
    assert [j.id for j in load_jobs(tmp_path, questions=["what?", "who?"])] == [j.id for j in jobs]
    tasks = group_by_video(jobs)
    assert len(tasks) == 1 and len(tasks[0].jobs) == 2


def test_list_file_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    v = _touch(tmp_path / "clips" / "one.mp4")
    lst = tmp_path / "lists" / "videos.txt"
    lst.parent.mkdir()
    lst.write_text(f"# my videos\n../clips/one.mp4\n\n{v}\n")
    jobs = load_jobs(lst, questions=["q"])
    assert [j.video for j in jobs] == [str(v)]  # the duplicate (same id) is dropped


def test_one_video_file_is_one_video_and_binary_lists_are_refused(tmp_path: Path) -> None:
    v = tmp_path / "clip.MP4"
    v.write_bytes(bytes(range(256)))  # not UTF-8: it must not be read as a list of paths
    jobs = load_jobs(v, questions=["what?", "who?"])
    assert [(j.video, j.question) for j in jobs] == [(str(v), "what?"), (str(v), "who?")]
    blob = tmp_path / "videos.lst"
    blob.write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="neither a folder, a text list"):
        load_jobs(blob, questions=["q"])


def test_jsonl_and_csv_manifests(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "b.mp4")
    man = tmp_path / "m.jsonl"
    man.write_text(
        json.dumps({"video": "a.mp4", "question": "colour?", "id": "row-1"})
        + "\n"
        + json.dumps({"video": "b.mp4"})
        + "\n"
    )
    jobs = load_jobs(man, questions=["default?"])
    assert [(Path(j.video).name, j.question, j.id) for j in jobs] == [
        ("a.mp4", "colour?", "row-1"),
        ("b.mp4", "default?", job_id(str(tmp_path / "b.mp4"), "default?")),
    ]
    csv = tmp_path / "m.csv"
    csv.write_text("video,question\na.mp4,colour?\nb.mp4,size?\n")
    assert [j.question for j in load_jobs(csv)] == ["colour?", "size?"]


def test_bad_inputs_name_the_problem(tmp_path: Path) -> None:
    _touch(tmp_path / "a.mp4")
    with pytest.raises(InputError, match="no question"):
        load_jobs(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_jobs(tmp_path / "missing")
    with pytest.raises(InputError, match="no files matching"):
        load_jobs(tmp_path, questions=["q"], glob="*.avi")
    man = tmp_path / "m.jsonl"
    man.write_text(
        '{"video": "a.mp4", "question": "x", "id": "same"}\n{"video": "a.mp4", "question": "y", "id": "same"}\n'
    )
    with pytest.raises(InputError, match="'same' is used for two different jobs"):
        load_jobs(man)
    bad_csv = tmp_path / "m.csv"
    bad_csv.write_text("path,question\na.mp4,x\n")
    with pytest.raises(InputError, match="'video' column"):
        load_jobs(bad_csv)
    qfile = tmp_path / "q.txt"
    qfile.write_text("# none\n\n")
    with pytest.raises(InputError, match="has no questions"):
        read_questions(qfile)


def test_jobspec_validates_and_reports_bad_factories() -> None:
    with pytest.raises(ConfigError, match="module:function"):
        JobSpec(factory="not_a_target")
    with pytest.raises(ConfigError, match="cannot import"):
        JobSpec(factory="no_such_module_xyz:make").build_runner()
    with pytest.raises(ConfigError, match="has no attribute"):
        JobSpec(factory="videopipe.batch.jobs:nope").build_runner()
    assert JobSpec(factory="videopipe.batch.jobs:pipeline_runner").build_preparer()("v.mp4") == "v.mp4"
