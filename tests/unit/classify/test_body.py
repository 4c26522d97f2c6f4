"""`scan_body`: every forwarded field is scanned, findings are named by field, never by value."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from router.classify import RuleClassifier, Sensitivity
from router.classify.body import scan_body
from router.classify.sensitivity import ExtraDetector, Hit

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": list(messages) or [{"role": "user", "content": "hi"}],
            **fields}


def tool(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", **function}}


@pytest.mark.parametrize(
    ("body", "kind", "field"),
    [
        (chat({"role": "user", "content": f"mail {EMAIL}"}), "email", "messages[0].content"),
        (chat({"role": "user", "content": [{"type": "text", "text": f"card {CARD}"}]}),
         "payment_card", "messages[0].content[0].text"),
        (chat({"role": "user", "name": EMAIL, "content": "hi"}), "email", "messages[0].name"),
        (chat(tools=[tool(description=f"escalate to {EMAIL}")]), "email",
         "tools[0].function.description"),
        (chat(tools=[tool(parameters={"type": "object", "properties": {
            "card": {"type": "string", "default": CARD}}})]),
         "payment_card", "tools[0].function.parameters"),
        (chat(tools=[tool(parameters={"type": "object", "properties": {
            EMAIL: {"type": "string"}}})]),
         "email", "tools[0].function.parameters"),  # a schema key, not only values
        (chat({"role": "tool", "tool_call_id": "c1", "content": f"owner: {EMAIL}"}), "email",
         "messages[0].content"),
        (chat({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "send", "arguments": json.dumps({"to": EMAIL}, ensure_ascii=True)
            .replace("@", "\\u0040")}}]}),
         "email", "messages[0].tool_calls[0].function.arguments"),
        (chat({"role": "assistant", "function_call": {"name": "send",
                                                      "arguments": f'{{"card": "{CARD}"}}'}}),
         "payment_card", "messages[0].function_call.arguments"),
        (chat({"role": "assistant", "refusal": f"I cannot email {EMAIL}"}), "email",
         "messages[0].refusal"),
        (chat({"role": "assistant", "audio": {"id": "a1", "transcript": f"card {CARD}"}}),
         "payment_card", "messages[0].audio.transcript"),
        (chat({"role": "user", "content": [{"type": "file", "file": {
            "filename": "notes.txt", "file_data": "data:text/plain;base64," + b64(EMAIL)}}]}),
         "email", "messages[0].content[0].file.file_data"),
        (chat({"role": "user", "content": [{"type": "file", "file": {
            "filename": "notes.txt", "file_data": b64("SSN: 078-05-1120")}}]}),
         "us_ssn", "messages[0].content[0].file.file_data"),
        (chat({"role": "user", "content": [{"type": "image_url", "image_url": {
            "url": "https://img.example.com/a.png?owner=jane.doe%40example.com"}}]}),
         "email", "messages[0].content[0].image_url.url"),
        (chat(user=EMAIL), "email", "user"),
        (chat(metadata={"customer": EMAIL}), "email", "metadata.customer"),
        (chat(stop=["END", "call me on +44 20 7946 0958"]), "phone", "stop[1]"),
        (chat(prediction={"type": "content", "content": f"card {CARD}"}), "payment_card",
         "prediction.content"),
        (chat(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {
            "type": "object", "description": f"for {EMAIL}"}}}),
         "email", "response_format.json_schema.schema"),
        (chat(documents=[{"text": "CONFIDENTIAL: Q3 board memo"}]), "confidential_marker",
         "documents[0].text"),
        (chat(extra={"deep": [[[[{"note": f"card {CARD}"}]]]]}), "payment_card", "extra.deep[0]"),
        (chat(user="jane.doe\u200b@example.com"), "email", "user"),  # a zero-width space
    ],
)
def test_every_forwarded_field_is_scanned_and_named(
    body: dict[str, Any], kind: str, field: str
) -> None:
    scan = scan_body(body)
    assert scan.findings.get(kind, 0) >= 1, scan
    assert field in scan.fields[kind], scan.fields
    assert scan.level is not Sensitivity.NONE


def test_paths_never_carry_values() -> None:
    body = chat(metadata={EMAIL: "x", "AKIAIOSFODNN7EXAMPLE": "y"},
                tools=[tool(parameters={"properties": {CARD: {"type": "string"}}})])
    scan = scan_body(body)
    assert scan.findings["email"] >= 1 and scan.findings["api_key"] >= 1
    assert scan.fields["email"] == ("metadata.*",)  # the key is the value: not in the path
    text = json.dumps(scan.fields)
    for value in (EMAIL, "AKIAIOSFODNN7EXAMPLE", CARD, "jane", "4111"):
        assert value not in text


@pytest.mark.parametrize(
    ("part", "kind"),
    [
        ({"type": "image_url", "image_url": {"url": "https://img.example.com/cat.png"}}, "image"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
         "image"),
        ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}, "audio"),
        ({"type": "file", "file": {"file_id": "file-abc123"}}, "file"),
        ({"type": "file", "file": {"filename": "a.pdf",
                                   "file_data": "data:application/pdf;base64,"
                                   + base64.b64encode(b"%PDF-1.7\x00\x01\x02\xff").decode()}},
         "file"),
    ],
)
def test_unscannable_content_is_counted_by_kind(part: dict[str, Any], kind: str) -> None:
    scan = scan_body(chat({"role": "user", "content": [{"type": "text", "text": "see"}, part]}))
    assert scan.unscannable == {kind: 1}
    assert scan.findings == {}


def test_text_files_and_data_urls_are_scanned_not_counted() -> None:
    body = chat({"role": "user", "content": [{"type": "file", "file": {
        "file_data": "data:text/plain;base64," + b64("hello there")}}]},
        attachment="data:text/plain;base64," + b64(f"card {CARD}"))
    scan = scan_body(body)
    assert scan.unscannable == {}
    assert scan.fields == {"payment_card": ("attachment",)}


@pytest.mark.parametrize("url", [
    "data:text/plain;base64," + b64("CONFIDENTIAL") + ": Q3 board memo",
    "data:image/png;base64,iVBORw0KGgo= CONFIDENTIAL: Q3 board memo",
    "data:text/plain;base64,aGVsbG8 CONFIDENTIAL: Q3 board memo",
])
def test_text_after_a_data_url_payload_is_scanned(url: str) -> None:
    # Found by the leak property test: the text after the payload was decoded as part of it.
    body = chat({"role": "user", "content": [{"type": "text", "text": url}]})
    assert scan_body(body).findings == {"confidential_marker": 1}


def test_clean_body_finds_nothing_and_plain_data_prefix_is_text() -> None:
    body = chat({"role": "user", "content": "data: the numbers are up 3% this week"},
                tools=[tool(description="Look up a service.", parameters={"type": "object"})],
                user="team-platform", metadata={"purpose": "review"}, temperature=0.2)
    assert scan_body(body) == scan_body(body)  # pure
    scan = scan_body(body)
    assert scan.findings == {} and scan.unscannable == {} and scan.fields == {}


def test_model_is_not_scanned_it_is_replaced() -> None:
    assert scan_body({"model": EMAIL, "messages": []}).findings == {}


@pytest.mark.parametrize("body", [
    {"messages": "not a list"},
    {"messages": [None, 3, "x", {"content": [None, 1, {"type": 7}]}]},
    {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": 3}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": "x", "function_call": [1]}]},
    {"tools": [{"function": {"arguments": "{not json"}}]},
    {"weird": [1.5, True, None, {"a": float("inf")}]},
])
def test_any_json_shape_is_scanned_without_crashing(body: dict[str, Any]) -> None:
    scan_body(body)


def test_deep_nesting_is_scanned() -> None:
    deep: list[Any] = [f"card {CARD}"]
    for _ in range(5000):
        deep = [deep]
    scan = scan_body({"messages": [], "deep": deep})
    assert scan.fields == {"payment_card": ("deep[0][0]",)}


def test_many_small_fields_attribute_each_finding() -> None:
    tools = [tool(description=f"tool number {i}") for i in range(40)]
    tools[7]["function"]["description"] += f" owner {EMAIL}"
    tools[31]["function"]["description"] += f" card {CARD}"
    scan = scan_body(chat(tools=tools, user=EMAIL))
    assert scan.findings == {"email": 2, "payment_card": 1}
    assert scan.fields == {"email": ("tools[7].function.description", "user"),
                           "payment_card": ("tools[31].function.description",)}


def _every(kind: str, word: str, text: str) -> list[Hit]:
    hits: list[Hit] = []
    pos = text.find(word)
    while pos >= 0:
        hits.append((kind, pos, pos + len(word)))
        pos = text.find(word, pos + 1)
    return hits


def _codename(text: str, lowered: str, shape: bytes) -> list[Hit]:
    return _every("codename", "bluebird", lowered)


def test_extra_detectors_run_on_every_field() -> None:
    extra = [ExtraDetector("codename", Sensitivity.CONFIDENTIAL, _codename)]
    body = chat(tools=[tool(description="Project Bluebird lookups")])
    scan = scan_body(body, extra)
    assert scan.fields == {"codename": ("tools[0].function.description",)}
    assert scan.level is Sensitivity.CONFIDENTIAL
    result = RuleClassifier(extra_detectors=extra).classify(body)
    assert result.sensitivity is Sensitivity.CONFIDENTIAL
    assert result.fields == {"codename": ("tools[0].function.description",)}


def _employee_number(text: str, lowered: str, shape: bytes) -> list[Hit]:
    return _every("employee_id", "90210777", text)


def test_numbers_are_scanned_as_text() -> None:
    extra = [ExtraDetector("employee_id", Sensitivity.PII, _employee_number)]
    scan = scan_body(chat(metadata={"employee": 90210777}, tools=[tool(parameters={
        "type": "object", "properties": {"id": {"type": "integer", "enum": [90210777]}}})]),
        extra)
    assert scan.fields == {"employee_id": ("metadata.employee", "tools[0].function.parameters")}


def test_a_key_that_holds_a_found_value_is_hidden_in_paths() -> None:
    extra = [ExtraDetector("codename", Sensitivity.CONFIDENTIAL, _codename)]
    scan = scan_body(chat(metadata={"bluebird": "launch date"}, user=EMAIL), extra)
    assert scan.fields == {"codename": ("metadata.*",), "email": ("user",)}


def test_classification_carries_fields_and_unscannable() -> None:
    body = chat({"role": "user", "content": [
        {"type": "text", "text": "what is in this picture?"},
        {"type": "image_url", "image_url": {"url": "https://img.example.com/cat.png"}}]},
        user=EMAIL)
    result = RuleClassifier().classify(body)
    assert result.sensitivity is Sensitivity.PII
    assert result.fields == {"email": ("user",)}
    assert result.unscannable == {"image": 1}
    out = result.to_dict()
    assert out["fields"] == {"email": ["user"]} and out["unscannable"] == {"image": 1}
