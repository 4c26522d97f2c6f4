"""The gateway end to end, driven by the official `openai` client over loopback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.support.gateway import Gateway, emulator_requests


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key="anything", max_retries=0, timeout=10)


def test_auto_non_streaming_carries_routing_headers(gateway: Gateway, vllm_url: str) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Hello there, how are you?"}]
    )
    completion = raw.parse()
    assert "emulated" in (completion.choices[0].message.content or "")
    headers = raw.headers
    assert headers["x-junction-route"] == "default"
    assert headers["x-junction-model"] == "local"
    assert headers["x-junction-attempts"] == "local:ok"
    assert headers["x-junction-request-id"].startswith("jr-")
    assert completion._request_id == headers["x-junction-request-id"]
    assert float(headers["x-junction-overhead-ms"]) >= 0
    assert completion.usage is not None and completion.usage.total_tokens > 0
    sent = emulator_requests(vllm_url)
    assert sent[-1]["body"]["model"] == "qwen-test"


def test_streaming_with_usage(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Tell me something"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "emulated" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert chunks[-1].choices == []


def test_streaming_without_usage_hides_the_usage_chunk(gateway: Gateway) -> None:
    chunks = list(client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Tell me something"}], stream=True,
    ))
    assert chunks and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason is not None


def test_streamed_headers_and_raw_events(gateway: Gateway) -> None:
    body = {"model": "auto", "stream": True,
            "messages": [{"role": "user", "content": "Stream please"}]}
    with httpx.stream("POST", gateway.v1 + "/chat/completions", json=body, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-junction-model"] == "local"
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"


def test_parameters_and_unknown_fields_pass_through(gateway: Gateway, vllm_url: str) -> None:
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    completion = client(gateway).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Use get_weather for Paris"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
        temperature=0.3, top_p=0.9, stop=["END"], seed=7, n=1, max_tokens=50,
        extra_body={"custom_vendor_field": {"a": [1, 2]}, "top_k": 5},
    )
    call = completion.choices[0].message.tool_calls
    assert call and call[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(call[0].function.arguments)  # type: ignore[union-attr]
    sent = emulator_requests(vllm_url)[-1]["body"]
    for key, value in {"temperature": 0.3, "top_p": 0.9, "stop": ["END"], "seed": 7, "n": 1,
                       "max_tokens": 50, "tool_choice": "required", "top_k": 5,
                       "custom_vendor_field": {"a": [1, 2]}}.items():
        assert sent[key] == value, key
    assert sent["tools"] == tools


def test_json_schema_response_format(gateway: Gateway) -> None:
    completion = client(gateway).chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Give me a person"}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": {
            "type": "object", "properties": {"name": {"type": "string"}},
            "required": ["name"]}}},
    )
    assert "name" in json.loads(completion.choices[0].message.content or "{}")


def test_image_request_goes_to_a_vision_model(gateway: Gateway, api_url: str) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]}],
    )
    assert raw.headers["x-junction-model"] == "api"  # local lacks vision
    assert emulator_requests(api_url)[-1]["body"]["messages"][0]["content"][1]["type"] == \
        "image_url"


def test_model_named_directly_and_route_named(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="api", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-junction-model"] == "api"
    assert raw.headers["x-junction-route"] == "direct:api"
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="default", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-junction-route"] == "default"


def test_models_list(gateway: Gateway) -> None:
    listed = {m.id: m for m in client(gateway).models.list()}
    assert {"auto", "default", "sensitive", "local", "api"} <= set(listed)
    local = listed["local"].model_extra["junction"]  # type: ignore[index]
    assert local["residency"] == "local" and "tools" in local["capabilities"]
    assert listed["api"].model_extra["junction"]["residency"] == "external"  # type: ignore[index]


def test_route_explain_calls_nothing(gateway: Gateway, vllm_url: str, api_url: str) -> None:
    body = {"model": "auto", "messages": [
        {"role": "user", "content": "Email me at jane.doe@example.com about the invoice"}]}
    r = httpx.post(gateway.v1 + "/route/explain", json=body, timeout=5)
    assert r.status_code == 200
    data = r.json()
    assert data["route"] == "sensitive"
    assert data["classification"]["sensitivity"] == "pii"
    assert data["classification"]["findings"] == {"email": 1}
    assert "jane.doe" not in r.text
    assert data["choice"] == "local"
    assert emulator_requests(vllm_url) == [] and emulator_requests(api_url) == []


def test_health_and_metrics(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/health/live").json() == {"status": "ok"}
    assert httpx.get(gateway.url + "/health/ready").status_code == 200
    client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "count me"}])
    text = httpx.get(gateway.url + "/metrics").text
    assert 'junction_requests_total{model="local",route="default",status="200"}' in text
    assert "junction_overhead_seconds_bucket" in text


@pytest.mark.parametrize("stream", [False, True])
def test_litellm_backends(vllm_url: str, api_url: str, anthropic_url: str, tmp_path: object,
                          stream: bool) -> None:
    from pathlib import Path

    from tests.integration.gateway.conftest import ENV, policy_text
    from tests.support.gateway import running_gateway

    extra = f"""
  claude:
    backend: litellm
    model: anthropic/claude-emulated
    endpoints: ["{anthropic_url}"]
    api_key_env: ANTHROPIC_KEY
    prices: {{input_per_million: 3, output_per_million: 15}}
  gpt:
    backend: litellm
    model: openai/api-large
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
"""
    assert isinstance(tmp_path, Path)
    with running_gateway(policy_text(vllm_url, api_url, extra_models=extra), tmp_path,
                         ENV) as gw:
        for model in ("claude", "gpt"):
            if stream:
                chunks = list(client(gw).chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}], stream=True,
                    stream_options={"include_usage": True}))
                text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                assert chunks[-1].usage is not None
            else:
                completion = client(gw).chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}])
                text = completion.choices[0].message.content or ""
                assert completion.usage is not None and completion.usage.prompt_tokens > 0
            assert "emulated" in text, model
