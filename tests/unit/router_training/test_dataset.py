"""The JSONL dataset: valid lines load, invalid ones fail naming line number and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from router_training.dataset import (
    DatasetError,
    RoutingExample,
    cost_matrix,
    dataset_models,
    load_dataset,
    quality_matrix,
    text_from_messages,
)

GOOD = {"id": "q1", "prompt": "What is 2+2?", "scores": {"big": 1, "small": 0.5}}


def write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    )
    return path


def test_valid_lines_load_with_matrices(tmp_path: Path) -> None:
    chat = {
        "id": 7,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Translate 'chat'"}]},
        ],
        "task": "translation",
        "scores": {"small": 1},
        "cost": {"small": 0.001},
        "meta": {"category": "x"},
    }
    examples = load_dataset(write(tmp_path, GOOD, "", chat))
    assert [e.id for e in examples] == ["q1", "7"]
    assert examples[1].text() == "You are terse.\n\nTranslate 'chat'"
    assert dataset_models(examples) == ["small", "big"]
    q = quality_matrix(examples, ["big", "small"])
    assert q[0].tolist() == [1.0, 0.5]
    assert np.isnan(q[1, 0]) and q[1, 1] == 1.0
    assert np.isnan(cost_matrix(examples, ["small"])[0, 0])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r":2: not valid JSON"),
        ({**GOOD, "id": "q2", "scores": {"big": 1.5}}, r":2: field 'scores'.*outside \[0, 1\]"),
        ({"id": "q2", "prompt": "x"}, r":2: field 'scores': Field required"),
        ({**GOOD, "id": "q2", "scores": {}}, r":2: field 'scores'"),
        ({**GOOD, "id": "q2", "messages": []}, r":2: .*exactly one of 'prompt'"),
        (
            {"id": "q2", "messages": [{"role": "system", "content": "x"}], "scores": {"a": 1}},
            r"no message with role 'user'",
        ),
        ({**GOOD, "id": "q2", "cost": {"big": -1}}, r"cost\['big'\] = -1.0 must be >= 0"),
        ({**GOOD, "id": "q2", "cost": {"other": 1}}, r"cost names models without a score"),
        ({**GOOD, "id": "q2", "task": 7}, r":2: field 'task'.*\(got 7\)"),
        (
            {**GOOD, "id": "q2", "scores": {"big": {"judge": 9}}},
            r"field 'scores.big'.*\(got \{\"judge\": 9\}\)",
        ),
        ({**GOOD, "id": "q2", "score": {"big": 1}}, r":2: field 'score': Extra inputs"),
        (GOOD, r":2: id 'q1' repeats line 1"),
    ],
)
def test_invalid_lines_name_line_and_field(tmp_path: Path, line: object, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_dataset(write(tmp_path, GOOD, line))


def test_empty_and_missing_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no examples"):
        load_dataset(write(tmp_path, ""))
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "absent.jsonl")


def test_chat_text_is_the_last_user_turn_with_a_little_context() -> None:
    messages = [
        {"role": "user", "content": "a" * 1000},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "Now prove it."},
        {"role": "assistant", "content": "trailing reply is not context"},
    ]
    text = text_from_messages(messages)
    assert text.endswith("\n\nNow prove it.")
    assert len(text) == 300 + 2 + len("Now prove it.")
    assert text_from_messages([{"role": "assistant", "content": "x"}]) == ""


def test_an_example_without_context_is_just_its_prompt() -> None:
    assert RoutingExample.model_validate(GOOD).text() == "What is 2+2?"


def test_any_task_label_is_kept(tmp_path: Path) -> None:
    examples = load_dataset(write(tmp_path, {**GOOD, "task": "contract-review"}))
    assert examples[0].task == "contract-review"


def test_a_score_scale_maps_judge_scores_into_the_unit_interval(tmp_path: Path) -> None:
    line = {**GOOD, "scores": {"big": 9, "small": 2.5}}
    examples = load_dataset(write(tmp_path, line), score_scale=10)
    assert quality_matrix(examples, ["big", "small"])[0].tolist() == [0.9, 0.25]
    outside = r"'scores.big': 12 is outside the score scale \[0, 10\]"
    with pytest.raises(DatasetError, match=outside):
        load_dataset(write(tmp_path, {**GOOD, "scores": {"big": 12}}), score_scale=10)
    with pytest.raises(DatasetError, match="score scale must be > 0; got 0"):
        load_dataset(write(tmp_path, GOOD), score_scale=0)
