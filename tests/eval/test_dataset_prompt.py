"""Dataset converters, the multiple-choice prompt, option parsing and the accuracy report."""

from __future__ import annotations

import json

import pytest

from videopipe.errors import InputError
from videopipe.eval.dataset import MCItem, load_items
from videopipe.eval.prompt import build_prompt, parse_choice
from videopipe.eval.report import summarize

ITEM = MCItem(
    id="1",
    video="v.mp4",
    question="What colour is the screen?",
    options=("red", "blue", "green", "white"),
    answer="B",
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("The answer is B", "B"),
        ("b", "B"),
        ("the answer is (b).", "B"),
        ("Answer: C) green", "C"),
        ("[d]", "D"),
        ("blue", "B"),  # the option's text
        ("I'd say D", "D"),
        ("garbage!!", None),
        ("", None),
        ("E", None),  # not one of 4 options
        ("(E)", None),
        ("red or blue", None),  # ambiguous
    ],
)
def test_parse_choice(text: str, expected: str | None) -> None:
    assert parse_choice(text, ITEM) == expected


def test_prompt_lists_lettered_options() -> None:
    p = build_prompt(ITEM)
    assert p.splitlines()[:5] == ["What colour is the screen?", "A. red", "B. blue", "C. green", "D. white"]
    assert "letter" in p.splitlines()[-1]


def test_canonical_jsonl_answers_as_letter_index_or_text(tmp_path) -> None:
    rows = [
        {"id": "a", "video": "x.mp4", "question": "q1", "options": ["u", "v"], "answer": "B"},
        {"id": "b", "video": "x.mp4", "question": "q2", "options": ["u", "v", "w"], "answer": 2},
        {"id": "c", "video": "y.mp4", "question": "q3", "options": ["A. u", "B. v"], "answer": "v"},
    ]
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    items = load_items(p)
    assert [i.answer for i in items] == ["B", "C", "B"]
    assert items[2].options == ("u", "v")  # letter prefixes stripped


def test_videomme_and_mlvu_converters(tmp_path) -> None:
    vm = [
        {
            "video_id": "001",
            "duration": "short",
            "domain": "Knowledge",
            "sub_category": "Humanity & History",
            "videoID": "fFjv93ACGo8",
            "question_id": "001-1",
            "task_type": "Counting Problem",
            "question": "How many ...?",
            "options": ["A. 1.", "B. 2.", "C. 3.", "D. 4."],
            "answer": "C",
        }
    ]
    p = tmp_path / "videomme.json"
    p.write_text(json.dumps(vm))
    (it,) = load_items(p)
    assert (it.video, it.answer, it.category, it.duration) == (
        "fFjv93ACGo8.mp4",
        "C",
        "Counting Problem",
        "short",
    )
    assert it.options == ("1.", "2.", "3.", "4.")
    ml = [
        {
            "video": "movie101_66.mp4",
            "duration": 246.0,
            "question": "What color is the main male character in the video?",
            "candidates": ["Yellow", "Red", "Green", "Blue"],
            "answer": "Yellow",
            "question_type": "plotQA",
        }
    ]
    p2 = tmp_path / "mlvu.json"
    p2.write_text(json.dumps(ml))
    (m,) = load_items(p2)
    assert (m.answer, m.category, m.duration) == ("A", "plotQA", "medium")


def test_bad_dataset_rows(tmp_path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps({"video": "x.mp4", "question": "q", "options": ["a", "b"], "answer": "Z"}))
    with pytest.raises(InputError, match="bad.jsonl:1.*answer 'Z'"):
        load_items(p)
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_items(p)
    with pytest.raises(InputError, match="does not exist"):
        load_items(tmp_path / "nope.jsonl")


def test_summary_groups() -> None:
    recs = [
        {"correct": True, "category": "a", "duration": "short", "visual_tokens": 10, "seconds": 1},
        {"correct": False, "category": "a", "duration": "long", "visual_tokens": 30, "seconds": 3},
        {"correct": False, "category": "b", "duration": "long", "error": "DecodeError: x"},
    ]
    s = summarize(recs)
    assert s["accuracy"] == pytest.approx(33.33, abs=0.01)
    assert s["per_category"]["a"] == {"accuracy": 50.0, "items": 2}
    assert s["per_duration"]["long"]["accuracy"] == 0.0 and s["errors"] == 1
    assert s["mean_visual_tokens"] == pytest.approx(40 / 3, abs=0.1)
