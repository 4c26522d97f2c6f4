"""The egress guard alone keeps sensitive bodies from external models.

Every gateway here is built with a classifier that reports nothing sensitive and nothing
unscannable, so the policy engine happily puts the external model first: only the guard in
`Executor` stands between the planted values and the external emulator.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.classify import Classification, RuleClassifier, Sensitivity
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL
from tests.support.gateway import (
    Gateway,
    closed_port_url,
    emulator_requests,
    running_gateway,
)

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"


class BlindClassifier:
    """The rule classifier with its sensitive-data findings thrown away."""

    def __init__(self) -> None:
        self.rules = RuleClassifier()

    def classify(
        self, body: Mapping[str, Any], *, min_sensitivity: Sensitivity = Sensitivity.NONE
    ) -> Classification:
        seen = self.rules.classify(body)
        return replace(seen, sensitivity=Sensitivity.NONE, findings={}, fields={},
                       unscannable={})


def policy(local: str, api: str, api_extra: str = "") -> str:
    return f"""
version: 1
models:
  local:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{local}"]
    capabilities: [tools, vision, json_schema]
    context_window: 32768
  api:
    backend: openai
    model: api-small
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.15, output_per_million: 0.6}}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
{api_extra}
  api2:
    backend: openai
    model: api-large
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 1.0, output_per_million: 4.0}}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
routes:
  - name: careful
    match: {{headers: {{x-team: legal}}}}
    candidates: [api]
    fallbacks: [local]
    unscannable: local
  - name: default
    candidates: [api, api2]
    fallbacks: [local]
"""


@pytest.fixture
def blind(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy(vllm_url, api_url), tmp_path, ENV,
                         classifier=BlindClassifier()) as gw:
        yield gw


@pytest.fixture
def blind_local_down(api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy(closed_port_url(), api_url), tmp_path, ENV,
                         classifier=BlindClassifier()) as gw:
        yield gw


def post(gw: Gateway, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers, timeout=10)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def tool(description: str = "Look up a record.") -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "lookup", "description": description,
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}


PLANTINGS: dict[str, tuple[dict[str, Any], str, str]] = {
    "tool description": ({"messages": user("find it"), "tools": [tool(f"mail {EMAIL}")]},
                         "email", "tools[0].function.description"),
    "file part": ({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise"},
        {"type": "file", "file": {"filename": "a.txt", "file_data": "data:text/plain;base64,"
                                  + base64.b64encode(f"card {CARD}".encode()).decode()}}]}]},
                  "payment_card", "messages[0].content[1].file.file_data"),
    "user": ({"messages": user("hello"), "user": EMAIL}, "email", "user"),
    "unknown field": ({"messages": user("answer from the documents"),
                       "documents": [{"text": f"card {CARD}"}]},
                      "payment_card", "documents[0].text"),
    "message text": ({"messages": user(f"card {CARD}")}, "payment_card",
                     "messages[0].content"),
}


def no_value_in(text: str) -> None:
    for value in (EMAIL, "jane.doe", CARD, CARD.replace(" ", "")):
        assert value not in text


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("where", sorted(PLANTINGS))
def test_guard_refuses_the_external_model_and_a_local_one_serves(
    blind: Gateway, api_url: str, vllm_url: str, where: str, stream: bool
) -> None:
    body, _, _ = PLANTINGS[where]
    r = post(blind, {"model": "auto", "stream": stream, **body})
    assert r.status_code == 200, r.text
    assert r.headers["x-junction-model"] == "local"
    # the first external model refused, the second not even tried as an external model
    assert r.headers["x-junction-attempts"] == "api:refused_egress,api2:refused_egress,local:ok"
    assert emulator_requests(api_url) == []
    assert len(emulator_requests(vllm_url)) == 1


@pytest.mark.parametrize(("where", "stream"), [(w, False) for w in sorted(PLANTINGS)]
                         + [("user", True)])
def test_with_no_local_model_the_caller_gets_403_naming_kinds_and_fields(
    blind_local_down: Gateway, api_url: str, where: str, stream: bool
) -> None:
    body, kind, field = PLANTINGS[where]
    r = post(blind_local_down, {"model": "auto", "stream": stream, **body})
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "sensitive_data_blocked"
    assert error["type"] == "permission_error"
    assert kind in error["message"] and field in error["message"]
    assert error["junction"]["fields"] == {kind: [field]}
    no_value_in(r.text)
    assert emulator_requests(api_url) == []
    metrics = httpx.get(blind_local_down.url + "/metrics", timeout=5).text
    assert f'junction_egress_refused_total{{kind="{kind}",model="api"}} 1.0' in metrics
    record = None
    for _ in range(50):  # recorded just after the response
        record = asyncio.run(blind_local_down.app.state.stats.get_record(
            error["junction"]["request_id"]))
        if record is not None:
            break
    assert record is not None
    # (the local model, down, may have been filtered out before execution)
    assert [(a.model, a.outcome) for a in record.attempts if a.model != "local"] == [
        ("api", "refused_egress"), ("api2", "refused_egress")]
    assert not any(a.reached_model or a.is_failure for a in record.attempts[:2])
    no_value_in(record.model_dump_json())


def test_named_external_model_is_refused_too(blind_local_down: Gateway, api_url: str) -> None:
    r = post(blind_local_down, {"model": "api2", "messages": user("hi"), "user": EMAIL})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "sensitive_data_blocked"
    assert emulator_requests(api_url) == []


def test_clean_requests_pass_the_guard(blind: Gateway, api_url: str) -> None:
    r = post(blind, {"model": "auto", "messages": user("What is a B-tree?"),
                     "tools": [tool()], "user": "team-platform"})
    assert r.status_code == 200
    assert r.headers["x-junction-model"] == "api"
    assert len(emulator_requests(api_url)) == 1


IMAGE = {"messages": [{"role": "user", "content": [
    {"type": "text", "text": "what is in this picture?"},
    {"type": "image_url", "image_url": {"url": "https://img.example.com/cat.png"}}]}]}


def test_unscannable_local_route_refuses_images_at_egress(
    blind_local_down: Gateway, api_url: str
) -> None:
    r = post(blind_local_down, {"model": "auto", **IMAGE}, **{"x-team": "legal"})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "sensitive_data_blocked"
    assert "image x1 that cannot be scanned" in error["message"]
    assert emulator_requests(api_url) == []
    metrics = httpx.get(blind_local_down.url + "/metrics", timeout=5).text
    assert 'kind="unscannable_image"' in metrics
    # the same image on a route that allows unscannable content goes to the API
    ok = post(blind_local_down, {"model": "auto", **IMAGE})
    assert ok.status_code == 200 and ok.headers["x-junction-model"] == "api"
    assert len(emulator_requests(api_url)) == 1


def test_the_models_own_extra_body_is_scanned_too(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    extra = f"    extra_body: {{metadata: {{owner: '{EMAIL}'}}}}"
    with running_gateway(policy(vllm_url, api_url, extra), tmp_path, ENV,
                         classifier=BlindClassifier()) as gw:
        r = post(gw, {"model": "auto", "messages": user("What is a B-tree?")})
    assert r.status_code == 200
    # the operator's own extra_body is part of what would leave: refused, and (the same
    # request) no other external model is tried either
    assert r.headers["x-junction-attempts"] == "api:refused_egress,api2:refused_egress,local:ok"
    assert emulator_requests(api_url) == []
