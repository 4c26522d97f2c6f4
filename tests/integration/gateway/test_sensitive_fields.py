"""Sensitive data anywhere in the body keeps the request local; explain and the record say where."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai

from tests.support.gateway import Gateway, emulator_requests

EMAIL = "jane.doe@example.com"


def tool(description: str) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": "lookup", "description": description,
        "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}


def test_explain_names_kinds_and_fields_never_values(gateway: Gateway, api_url: str) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "look it up"}],
            "tools": [tool(f"escalate to {EMAIL}")]}
    r = httpx.post(gateway.v1 + "/route/explain", json=body, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["route"] == "sensitive" and out["attempt_order"] == ["local"]
    assert out["classification"]["findings"] == {"email": 1}
    assert out["classification"]["fields"] == {"email": ["tools[0].function.description"]}
    assert EMAIL not in r.text and "jane" not in r.text
    assert emulator_requests(api_url) == []


def test_explain_counts_unscannable_content_and_shows_the_route_choice(
    gateway: Gateway,
) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://img.example.com/cat.png"}}]}]}
    out = httpx.post(gateway.v1 + "/route/explain", json=body, timeout=10).json()
    assert out["classification"]["unscannable"] == {"image": 1}
    assert out["unscannable_policy"] == "allow"  # the default: vision requests reach APIs
    assert out["attempt_order"] == ["api"]


def test_a_tool_description_keeps_the_request_local_and_the_record_says_where(
    gateway: Gateway, api_url: str
) -> None:
    client = openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0)
    completion = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "look it up"}],
        tools=[tool(f"escalate to {EMAIL}")],  # type: ignore[list-item]
        user="team-platform",
    )
    assert completion.headers["x-junction-model"] == "local"
    assert completion.headers["x-junction-sensitivity"] == "pii"
    assert emulator_requests(api_url) == []
    request_id = completion.headers["x-junction-request-id"]
    store = gateway.app.state.stats
    record = None
    for _ in range(50):  # recorded just after the response
        record = asyncio.run(store.get_record(request_id))
        if record is not None:
            break
    assert record is not None
    assert record.classification.fields == {"email": ["tools[0].function.description"]}
    assert record.classification.unscannable == {}
    assert EMAIL not in record.model_dump_json()
