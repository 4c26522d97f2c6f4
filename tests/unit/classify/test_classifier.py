"""`RuleClassifier` on whole chat bodies: header, capabilities, token estimate, what is scanned,
what never leaks, and accuracy on the labelled set in tests/data/classifier_prompts.jsonl."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from router.classify import Capability, Classifier, RuleClassifier, Sensitivity, Task

DATA = Path(__file__).resolve().parents[2] / "data" / "classifier_prompts.jsonl"
# Measured on the labelled set: task accuracy 0.92 overall, 0.79 on `heldout3-*`, rows written
# after the rules were frozen. The floors leave a little room for lexicon changes.
TASK_ACCURACY_FLOOR = 0.90
HELD_OUT_TASK_ACCURACY_FLOOR = 0.75
SENSITIVITY_ACCURACY_FLOOR = 0.95

CLASSIFIER: Classifier = RuleClassifier()


def user(content: Any) -> dict[str, Any]:
    return {"model": "any", "messages": [{"role": "user", "content": content}]}


def load_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def body_of(row: dict[str, Any]) -> dict[str, Any]:
    if "messages" in row:
        return {"model": "any", "messages": row["messages"]}
    return user(row["prompt"])


# --- sensitivity header -------------------------------------------------------------------


@pytest.mark.parametrize("header", list(Sensitivity))
@pytest.mark.parametrize(
    ("content", "detected"),
    [
        ("What's the capital of Peru?", Sensitivity.NONE),
        ("Mail jane.doe@example.com about it.", Sensitivity.PII),
        ("CONFIDENTIAL: summarise the board memo.", Sensitivity.CONFIDENTIAL),
        ("password = Tr0ub4dor&3xyz, why does login fail?", Sensitivity.SECRET),
    ],
)
def test_header_can_raise_but_never_lower(
    content: str, detected: Sensitivity, header: Sensitivity
) -> None:
    result = CLASSIFIER.classify(user(content), min_sensitivity=header)
    assert result.sensitivity is detected.at_least(header)
    assert result.sensitivity.rank >= detected.rank
    raised = any(s.startswith("header raised") for s in result.signals)
    assert raised is (header.rank > detected.rank)


# --- capabilities -----------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, set()),
        ({"tools": [TOOL]}, {Capability.TOOLS}),
        ({"tools": [TOOL], "tool_choice": "auto"}, {Capability.TOOLS}),
        ({"tools": [TOOL], "tool_choice": "none"}, set()),
        ({"tools": []}, set()),
        ({"functions": [TOOL["function"]]}, {Capability.TOOLS}),
        ({"functions": [TOOL["function"]], "function_call": "none"}, set()),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
         {Capability.JSON_SCHEMA}),
        ({"response_format": {"type": "json_object"}}, set()),
        ({"response_format": {"type": "text"}}, set()),
    ],
)  # fmt: skip
def test_capabilities_from_the_body(extra: dict[str, Any], expected: set[Capability]) -> None:
    assert CLASSIFIER.classify({**user("What's the weather in Oslo?"), **extra}).capabilities == (
        expected
    )


@pytest.mark.parametrize("part_type", ["image_url", "input_image"])
def test_an_image_part_needs_vision(part_type: str) -> None:
    parts = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": part_type, part_type: {"url": "https://example.com/cat.png"}},
    ]
    assert CLASSIFIER.classify(user(parts)).capabilities == {Capability.VISION}


def test_long_context_follows_the_constructor_threshold() -> None:
    body = user("word " * 2000)  # about 2,500 estimated tokens
    assert Capability.LONG_CONTEXT not in RuleClassifier().classify(body).capabilities
    small = RuleClassifier(long_context_tokens=1000)
    assert Capability.LONG_CONTEXT in small.classify(body).capabilities


def test_long_context_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="long_context_tokens must be at least 1"):
        RuleClassifier(long_context_tokens=0)


# --- prompt token estimate ------------------------------------------------------------------


def test_prompt_tokens_are_chars_over_four_plus_overheads() -> None:
    text = "x" * 400
    # 100 for the text, 4 for the message, 3 for the reply's priming.
    assert CLASSIFIER.classify(user(text)).prompt_tokens == 107


def test_images_and_tools_add_tokens() -> None:
    base = CLASSIFIER.classify(user([{"type": "text", "text": "x" * 400}])).prompt_tokens
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    low = {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
    with_images = user([{"type": "text", "text": "x" * 400}, image, low])
    assert CLASSIFIER.classify(with_images).prompt_tokens == base + 765 + 85
    tools = {**user([{"type": "text", "text": "x" * 400}]), "tools": [TOOL]}
    assert CLASSIFIER.classify(tools).prompt_tokens == base + len(json.dumps([TOOL])) // 4


# --- what is read -----------------------------------------------------------------------------


def test_every_role_is_scanned_including_tool_calls_and_results() -> None:
    body = {
        "model": "any",
        "messages": [
            {"role": "system", "content": "Internal use only."},
            {"role": "user", "content": "Look up the customer."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "arguments": json.dumps({"filters": {"email": "ana@example.com"}}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "phone: +44 20 7946 0958"},
            {"role": "assistant", "content": "Found her."},
            {"role": "user", "content": "Thanks! Write her a short thank-you poem."},
        ],
    }
    result = CLASSIFIER.classify(body)
    assert result.findings == {"confidential_marker": 1, "email": 1, "phone": 1}
    assert result.sensitivity is Sensitivity.CONFIDENTIAL
    assert result.task is Task.CREATIVE  # from the last user message


def test_tool_arguments_that_are_not_json_are_scanned_raw() -> None:
    call = {
        "id": "c",
        "type": "function",
        "function": {"name": "f", "arguments": "ssn 536-22-1987"},
    }
    body = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    assert CLASSIFIER.classify(body).findings == {"us_ssn": 1}


def test_findings_and_signals_never_hold_the_values() -> None:
    secrets = ["jane.doe@example.com", "4111 1111 1111 1111", "536-22-1987", "Tr0ub4dor&3xyz"]
    body = user(f"Mail {secrets[0]}, card {secrets[1]}, SSN {secrets[2]}, password = {secrets[3]}")
    result = CLASSIFIER.classify(body)
    assert result.findings == {"email": 1, "payment_card": 1, "us_ssn": 1, "password": 1}
    dumped = json.dumps(result.to_dict())
    assert not any(secret in dumped for secret in secrets)
    assert {"email x1", "payment_card x1", "us_ssn x1", "password x1"} <= set(result.signals)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": None},
        {"messages": "hello"},
        {"messages": [None, 3, "x"]},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "user", "content": [None, {"type": "text"}, {"type": "x"}]}]},
        {"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": 7}}]}]},
        {"messages": [{"role": "user", "content": "hi"}], "response_format": "json"},
    ],
)
def test_malformed_bodies_do_not_raise(body: dict[str, Any]) -> None:
    result = CLASSIFIER.classify(body)
    assert result.task is Task.CHAT
    assert result.sensitivity is Sensitivity.NONE
    assert 0.0 <= result.difficulty <= 1.0


# --- the labelled set -----------------------------------------------------------------------


def test_labelled_set_is_large_and_covers_every_task_and_kind() -> None:
    rows = load_rows()
    assert len(rows) >= 300
    assert len({row["id"] for row in rows}) == len(rows)
    tasks = Counter(row["task"] for row in rows)
    assert set(tasks) == {t.value for t in Task}
    assert min(tasks.values()) >= 25
    kinds = Counter(kind for row in rows for kind in row["findings"])
    assert min(kinds.values()) >= 10
    assert {row["sensitivity"] for row in rows} == {s.value for s in Sensitivity}


def test_labelled_set_sensitivity_accuracy() -> None:
    rows = load_rows()
    results = [CLASSIFIER.classify(body_of(row)) for row in rows]
    pairs = list(zip(results, rows, strict=True))
    level_hits = sum(result.sensitivity.value == row["sensitivity"] for result, row in pairs)
    kind_hits = sum(set(result.findings) == set(row["findings"]) for result, row in pairs)
    assert level_hits / len(rows) >= SENSITIVITY_ACCURACY_FLOOR
    assert kind_hits / len(rows) >= SENSITIVITY_ACCURACY_FLOOR


def test_labelled_set_task_accuracy() -> None:
    rows = load_rows()
    hits = {row["id"]: CLASSIFIER.classify(body_of(row)).task.value == row["task"] for row in rows}
    assert sum(hits.values()) / len(hits) >= TASK_ACCURACY_FLOOR
    held_out = [hit for row_id, hit in hits.items() if row_id.startswith("heldout3-")]
    assert len(held_out) >= 90
    assert sum(held_out) / len(held_out) >= HELD_OUT_TASK_ACCURACY_FLOOR
