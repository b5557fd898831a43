"""The index's records as read from disk: every field of every record is checked against its
declared type (the checks come from the dataclass fields, so a new field cannot be left
unchecked), and what the store writes is never garbage a reader would call damage."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest

from videopipe.errors import IndexStoreError
from videopipe.retrieval.store import IndexConfig, IndexDamageError, IndexStore

CONFIG = IndexConfig(
    embedder="color", space="color", dim=3, segmentation="fixed:w2:o0", window_s=2.0, overlap_s=0.0
)
KEY = "0123456789abcdef0123456789abcdef01234567"


def _index_with_config(tmp_path: Path, config: dict) -> Path:
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "videopipe-index.json").write_text(json.dumps({"format": 1, "config": config}))
    return idx


@pytest.mark.parametrize("name", [f.name for f in fields(IndexConfig)])
def test_every_config_field_is_checked(tmp_path: Path, name: str) -> None:
    """``"text_key": 123`` was accepted: the hand-kept type table lacked text, text_key and
    asr_model. A list is of the wrong type for every field."""
    idx = _index_with_config(tmp_path, {**asdict(CONFIG), name: [1]})
    with pytest.raises(
        IndexDamageError, match=rf"videopipe-index.json has a malformed config \({name} = "
    ) as e:
        IndexStore(idx).config()
    assert e.value.file == "videopipe-index.json"


@pytest.mark.parametrize("name", ["text", "text_key", "asr_model"])
def test_a_number_where_a_text_belongs_is_damage(tmp_path: Path, name: str) -> None:
    idx = _index_with_config(tmp_path, {**asdict(CONFIG), name: 123})
    with pytest.raises(IndexDamageError, match=rf"malformed config \({name} = 123\)"):
        IndexStore(idx).config()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True])
def test_a_non_finite_or_boolean_number_is_damage(tmp_path: Path, value: float) -> None:
    idx = _index_with_config(tmp_path, {**asdict(CONFIG), "window_s": value})
    with pytest.raises(IndexDamageError, match=r"malformed config \(window_s = "):
        IndexStore(idx).config()


def test_a_good_config_reads_back(tmp_path: Path) -> None:
    idx = _index_with_config(tmp_path, asdict(CONFIG))
    assert IndexStore(idx).config() == CONFIG


def test_the_format_error_names_the_config_file(tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "videopipe-index.json").write_text(json.dumps({"format": 99, "config": asdict(CONFIG)}))
    with pytest.raises(
        IndexStoreError, match=r"idx/videopipe-index.json has format 99, this videopipe reads 1"
    ):
        IndexStore(idx).config()


def test_a_writer_refuses_non_finite_vectors(tmp_path: Path) -> None:
    """An embedder that returns NaN would write a segment every reader calls damaged."""
    store = IndexStore(tmp_path / "idx")
    with store.writer(CONFIG) as w:
        vectors = np.ones((2, 3), np.float32)
        vectors[1, 2] = np.nan
        with pytest.raises(IndexStoreError, match=r"non-finite \(NaN or inf\) vectors in 1 of 2 clips"):
            w.write_segment(KEY, np.zeros(2), np.ones(2), ["", ""], vectors)
        assert not w.has_segment(KEY)


def test_snapshot_names_that_are_no_version_are_removed(tmp_path: Path) -> None:
    """A snapshot file named with a number no writer reaches is not taken as the newest
    version: the next commit is version 1, and its garbage collection removes the file."""
    store = IndexStore(tmp_path / "idx")
    with store.writer(CONFIG):
        pass
    for digits in (200, 30):
        (store.directory / "snapshots" / f"{'9' * digits}.json").write_text("{}")
    with store.writer(CONFIG) as w:
        assert w.commit() == 1
        w.garbage_collect()
    assert [p.name for p in (store.directory / "snapshots").iterdir()] == ["00000001.json"]
    assert store.current_version() == 1


def test_a_faiss_record_kind_is_an_index_kind_stored_as_its_value() -> None:
    from videopipe.retrieval.faiss_kinds import IndexKind
    from videopipe.retrieval.store.checks import from_json
    from videopipe.retrieval.store.damage import Problem
    from videopipe.retrieval.store.records import FaissMeta

    meta = from_json(FaissMeta, {"kind": "ivf", "digest": "d", "file": "f.faiss"}, "FAISS record")
    assert meta.kind is IndexKind.IVF and json.loads(json.dumps(asdict(meta)))["kind"] == "ivf"
    with pytest.raises(Problem, match="malformed FAISS record"):
        from_json(FaissMeta, {"kind": "annoy", "digest": "d", "file": None}, "FAISS record")
