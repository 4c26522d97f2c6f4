"""The Anthropic Messages door, driven by the official `anthropic` SDK against a real gateway.

Upstreams are the emulators: vLLM (translation both ways), OpenAI, and Anthropic (passthrough:
the Messages body goes to it untranslated; asked from the chat door, it is translated).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from junction_emulate import (
    EmulatorBehaviour,
    create_anthropic_app,
    create_openai_app,
    create_vllm_app,
    run_in_thread,
)
from tests.support.gateway import (
    Gateway,
    closed_port_url,
    emulator_config,
    emulator_requests,
    emulator_reset,
    running_gateway,
)

LOCAL_MODEL = "qwen-test"
ENV = {"TEST_API_KEY": "sk-test-api", "ANTHROPIC_KEY": "sk-ant-test"}
DEFAULTS = {"ttft": 0.0, "tps": 0.0, "completion_tokens": 12, "fail_next": 0,
            "error_rate": 0.0, "cut_after_chunks": None}
WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(LOCAL_MODEL,)))) as url:
        yield url


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("api-small",), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def claude_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("claude-emulated",), api_key="sk-ant-test")
    with run_in_thread(create_anthropic_app(behaviour)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh(vllm_url: str, api_url: str, claude_url: str) -> None:
    for url in (vllm_url, api_url, claude_url):
        emulator_reset(url)
        emulator_config(url, **DEFAULTS)


def policy(local: str, api: str, claude: str, local_first: str | None = None) -> str:
    return f"""
version: 1
models:
  local:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{local}"]
    capabilities: [tools, vision, json_schema]
    context_window: 32768
  down:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{local_first or closed_port_url()}"]
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
  claude:
    backend: anthropic
    model: claude-emulated
    endpoints: ["{claude}"]
    api_key_env: ANTHROPIC_KEY
    prices: {{input_per_million: 3.0, output_per_million: 15.0}}
    capabilities: [tools, vision, json_schema]
    context_window: 200000
routes:
  - name: sensitive
    match: {{sensitivity: [pii, confidential, secret]}}
    candidates: [local]
    on_unavailable: reject
  - name: default
    candidates: [local, api]
    objective: min_cost
  # Reached by name only: `auto` matches `default` first.
  - name: claude-first
    candidates: [claude]
    fallbacks: [local]
  - name: local-down
    candidates: [down]
    fallbacks: [claude]
quality:
  chat: {{local: 0.8, api: 0.8, claude: 0.9}}
"""


@pytest.fixture(scope="module")
def gateway(vllm_url: str, api_url: str, claude_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(policy(vllm_url, api_url, claude_url),
                         tmp_path_factory.mktemp("anthropic-door"), ENV,
                         breaker={"failure_threshold": 100, "cooldown_s": 0.1},
                         timeouts={"connect_s": 1.0, "first_byte_s": 5.0,
                                   "stream_idle_s": 5.0}) as gw:
        yield gw


@pytest.fixture
def client(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0,
                             timeout=30) as c:
        yield c


def bodies(url: str) -> list[dict[str, Any]]:
    return [r["body"] for r in emulator_requests(url)]


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) for every event of a Messages stream."""
    out = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


# -- translation to an OpenAI-compatible model (the emulated vLLM) ---------------------------


def test_create_is_translated_for_an_openai_compatible_model(
    client: anthropic.Anthropic, vllm_url: str,
) -> None:
    raw = client.messages.with_raw_response.create(
        model="local", max_tokens=50, system=[{"type": "text", "text": "Be brief."}],
        temperature=0.5, top_p=0.9, top_k=20, stop_sequences=["END"],
        metadata={"user_id": "user-7"},
        messages=[{"role": "user", "content": "Hello"},
                  {"role": "assistant", "content": "Hi. What now?"},
                  {"role": "user", "content": [{"type": "text", "text": "Say something."}]}])
    message = raw.parse()
    assert raw.headers["x-junction-model"] == "local"
    assert raw.headers["x-junction-request-id"].startswith("jr-")
    assert message.type == "message" and message.role == "assistant"
    # The emulated vLLM reasons first (Qwen3-style reasoning_content): a thinking block.
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 20 and message.usage.input_tokens > 0  # 8 reasoning
    sent = bodies(vllm_url)[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["max_tokens"] == 50 and sent["stop"] == ["END"] and sent["top_k"] == 20
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9 and sent["user"] == "user-7"


def test_max_tokens_stop_reason(client: anthropic.Anthropic, vllm_url: str) -> None:
    message = client.messages.create(model="local", max_tokens=3,
                                     messages=[{"role": "user", "content": "Talk."}])
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_images_are_sent_as_image_parts(client: anthropic.Anthropic, vllm_url: str) -> None:
    pixel = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
             "AAAABJRU5ErkJggg==")
    client.messages.create(model="local", max_tokens=20, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": pixel}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What are these?"}]}])
    parts = bodies(vllm_url)[-1]["messages"][-1]["content"]
    assert parts[0] == {"type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + pixel}}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


def test_stream_has_anthropics_event_sequence(gateway: Gateway, client: anthropic.Anthropic
                                              ) -> None:
    with client.messages.stream(model="local", max_tokens=50,
                                messages=[{"role": "user", "content": "Hello"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert text and final.content[1].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 20
    r = httpx.post(gateway.v1 + "/messages", timeout=30, json={
        "model": "local", "max_tokens": 50, "stream": True,
        "messages": [{"role": "user", "content": "Hello"}]})
    events = sse_events(r)
    shape = []  # consecutive deltas of one kind collapsed to one entry
    for name, data in events:
        entry = name + ":" + (data.get("delta", {}).get("type", "")
                              or data.get("content_block", {}).get("type", ""))
        if not shape or shape[-1] != entry:
            shape.append(entry)
    assert shape == [
        "message_start:", "ping:", "content_block_start:thinking",
        "content_block_delta:thinking_delta", "content_block_stop:",
        "content_block_start:text", "content_block_delta:text_delta", "content_block_stop:",
        "message_delta:", "message_stop:"]
    assert [d["index"] for n, d in events if n == "content_block_start"] == [0, 1]
    delta = dict(events)["message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 20


def test_tools_and_tool_results_round_trip(client: anthropic.Anthropic, vllm_url: str) -> None:
    first = client.messages.create(
        model="local", max_tokens=100, tools=[WEATHER], tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and isinstance(call.input, dict)
    sent = bodies(vllm_url)[-1]
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]
    second = client.messages.create(
        model="local", max_tokens=100, tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris?"},
                  {"role": "assistant", "content": first.content},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                "content": "18C and sunny"}]}])
    assert second.stop_reason == "end_turn" and second.content[-1].type == "text"
    history = bodies(vllm_url)[-1]["messages"]
    assert history[1]["tool_calls"][0]["id"] == call.id
    assert history[2] == {"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"}


@pytest.mark.parametrize("choice", [{"type": "tool", "name": "get_weather"}, {"type": "none"},
                                    {"type": "auto"}])
def test_tool_choice_is_translated(client: anthropic.Anthropic, vllm_url: str,
                                   choice: dict[str, Any]) -> None:
    message = client.messages.create(
        model="local", max_tokens=100, tools=[WEATHER], tool_choice=choice,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "Hello there"}])
    sent = bodies(vllm_url)[-1]["tool_choice"]
    expected = {"tool": {"type": "function", "function": {"name": "get_weather"}},
                "none": "none", "auto": "auto"}[choice["type"]]
    assert sent == expected
    assert (message.stop_reason == "tool_use") == (choice["type"] == "tool")


def test_stream_tool_use(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
            model="local", max_tokens=100, tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_weather"},
            messages=[{"role": "user", "content": "Weather in Paris?"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.name == "get_weather" and "city" in call.input  # type: ignore[operator]
    assert final.stop_reason == "tool_use"


def test_thinking_is_accepted_and_history_thinking_dropped(client: anthropic.Anthropic,
                                                           vllm_url: str) -> None:
    client.messages.create(
        model="local", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": [
                      {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                      {"type": "redacted_thinking", "data": "opaque"},
                      {"type": "text", "text": "Hello"}]},
                  {"role": "user", "content": "Again"}])
    sent = bodies(vllm_url)[-1]
    assert sent["reasoning_effort"] == "low"
    assert sent["messages"][1] == {"role": "assistant", "content": "Hello"}


def test_count_tokens(client: anthropic.Anthropic) -> None:
    short = client.messages.count_tokens(model="local",
                                         messages=[{"role": "user", "content": "Hi"}])
    long = client.messages.count_tokens(
        model="local", system="You are terse.", tools=[WEATHER],
        messages=[{"role": "user", "content": "Hi " * 400}])
    assert 0 < short.input_tokens < long.input_tokens
    assert long.input_tokens >= 300


# -- errors in Anthropic's shape -------------------------------------------------------------


def test_missing_max_tokens_is_an_invalid_request(gateway: Gateway) -> None:
    r = httpx.post(gateway.v1 + "/messages", timeout=10, headers={"x-api-key": "k"}, json={
        "model": "local", "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    assert r.headers["x-request-id"].startswith("jr-")


def test_bad_json_and_bad_blocks(client: anthropic.Anthropic, gateway: Gateway) -> None:
    r = httpx.post(gateway.v1 + "/messages", content=b"{nope", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="local", max_tokens=5, messages=[
            {"role": "user", "content": [{"type": "video", "source": {}}]}])  # type: ignore[list-item]
    assert "messages.0.content.0.type" in str(info.value)


def test_unknown_model_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="no-such-model", max_tokens=5,
                               messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


def test_sensitive_request_for_an_external_model_is_refused(client: anthropic.Anthropic,
                                                             claude_url: str) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        client.messages.create(model="claude", max_tokens=5, messages=[
            {"role": "user", "content": "My IBAN is DE89370400440532013000, file it."}])
    assert info.value.status_code == 403
    assert info.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
    assert bodies(claude_url) == []


def test_upstream_failure_is_an_api_error(client: anthropic.Anthropic, claude_url: str,
                                          vllm_url: str) -> None:
    emulator_config(claude_url, error_rate=1.0)
    emulator_config(vllm_url, error_rate=1.0)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="claude-first", max_tokens=5,
                               messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 502
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]


# -- passthrough to an Anthropic model -------------------------------------------------------


def test_passthrough_sends_the_messages_body_untranslated(
    gateway: Gateway, claude_url: str, vllm_url: str,
) -> None:
    system = [{"type": "text", "text": "Brief.", "cache_control": {"type": "ephemeral"}}]
    body = {"model": "claude", "max_tokens": 40, "system": system,
            "top_k": 5, "metadata": {"user_id": "u-1"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": [
                             {"type": "thinking", "thinking": "t", "signature": "s1"},
                             {"type": "text", "text": "Hello"}]},
                         {"role": "user", "content": [{"type": "text", "text": "Again"}]}]}
    r = httpx.post(gateway.v1 + "/messages", json=body, timeout=30,
                   headers={"x-api-key": "junction-key", "anthropic-version": "2023-06-01",
                            "anthropic-beta": "test-beta"})
    assert r.status_code == 200, r.text
    assert r.headers["x-junction-model"] == "claude"
    message = r.json()
    assert message["type"] == "message" and message["model"] == "claude-emulated"
    [received] = emulator_requests(claude_url)
    assert received["body"] == {**body, "model": "claude-emulated"}
    assert received["headers"]["x-api-key"] == "sk-ant-test"
    assert received["headers"]["anthropic-beta"] == "test-beta"
    assert bodies(vllm_url) == []


def test_passthrough_stream_is_forwarded_as_it_came(client: anthropic.Anthropic,
                                                    claude_url: str) -> None:
    with client.messages.stream(model="claude", max_tokens=40, tools=[WEATHER],
                                tool_choice={"type": "tool", "name": "get_weather"},
                                messages=[{"role": "user", "content": "Paris?"}]) as stream:
        final = stream.get_final_message()
    assert final.model == "claude-emulated" and final.stop_reason == "tool_use"
    assert next(b for b in final.content if b.type == "tool_use").name == "get_weather"
    assert bodies(claude_url)[-1]["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_chat_door_reaches_an_anthropic_model_translated(gateway: Gateway,
                                                         claude_url: str) -> None:
    chat = openai.OpenAI(base_url=gateway.v1, api_key="unused", max_retries=0)
    completion = chat.chat.completions.create(
        model="claude", max_tokens=30, stop=["END"],
        messages=[{"role": "system", "content": "Brief."}, {"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 12
    sent = bodies(claude_url)[-1]
    assert sent["system"] == "Brief." and sent["max_tokens"] == 30
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert sent["stop_sequences"] == ["END"]
    stream = chat.chat.completions.create(
        model="claude", max_tokens=30, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Hi"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


# -- fallbacks apply as on the chat door -----------------------------------------------------


def test_fallback_from_anthropic_to_local_is_translated(client: anthropic.Anthropic,
                                                        claude_url: str) -> None:
    emulator_config(claude_url, fail_next=1)
    raw = client.messages.with_raw_response.create(
        model="claude-first", max_tokens=20, messages=[{"role": "user", "content": "Hi"}])
    assert raw.headers["x-junction-model"] == "local"
    assert raw.headers["x-junction-attempts"].startswith("claude:")
    message = raw.parse()
    assert message.content[-1].type == "text" and message.stop_reason == "end_turn"


def test_fallback_from_local_to_anthropic_passes_through(client: anthropic.Anthropic,
                                                         claude_url: str) -> None:
    with client.messages.stream(model="local-down", max_tokens=20,
                                messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.model == "claude-emulated"
    assert bodies(claude_url)[-1]["messages"] == [{"role": "user", "content": "Hi"}]


# -- keys and budgets ------------------------------------------------------------------------

ADMIN = "admin-secret-for-tests"


@pytest.fixture(scope="module")
def keyed_gateway(vllm_url: str, api_url: str, claude_url: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(policy(vllm_url, api_url, claude_url),
                         tmp_path_factory.mktemp("anthropic-keys"), ENV, admin_token=ADMIN,
                         accounts={"require_key": True}) as gw:
        yield gw


def _key(gateway: Gateway, team: str, limits: dict[str, object]) -> str:
    headers = {"authorization": f"Bearer {ADMIN}"}
    r = httpx.post(gateway.url + "/admin/teams", headers=headers, timeout=10,
                   json={"name": team, "limits": limits})
    assert r.status_code in (200, 201), r.text
    r = httpx.post(gateway.url + "/admin/keys", headers=headers, timeout=10,
                   json={"team": team, "name": "test"})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["key"])


def test_x_api_key_is_a_junction_key(keyed_gateway: Gateway) -> None:
    key = _key(keyed_gateway, "door-keys", {})
    good = anthropic.Anthropic(base_url=keyed_gateway.url, api_key=key, max_retries=0)
    assert good.messages.create(model="local", max_tokens=5,
                                messages=[{"role": "user", "content": "Hi"}]).content
    bearer = anthropic.Anthropic(base_url=keyed_gateway.url, auth_token=key, max_retries=0)
    assert bearer.messages.count_tokens(model="local", messages=[
        {"role": "user", "content": "Hi"}]).input_tokens > 0
    bad = anthropic.Anthropic(base_url=keyed_gateway.url, api_key="jk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.messages.create(model="local", max_tokens=5,
                            messages=[{"role": "user", "content": "Hi"}])
    assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


def test_budget_exceeded_is_a_rate_limit_error(keyed_gateway: Gateway) -> None:
    key = _key(keyed_gateway, "door-budget", {"daily_usd": 0.000001})
    client = anthropic.Anthropic(base_url=keyed_gateway.url, api_key=key, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        for _ in range(5):
            client.messages.create(model="api", max_tokens=1000,
                                   messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"]
    assert info.value.body["type"] == "error"  # type: ignore[index]
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert info.value.body["error"]["code"] == "budget_exceeded"  # type: ignore[index]


def test_upstream_rejection_on_passthrough_keeps_anthropics_error(
        client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model="claude", max_tokens=5, tool_choice={"type": "tool",
                                                                           "name": "nope"},
                               tools=[WEATHER], messages=[{"role": "user", "content": "Hi"}])
    body = info.value.body
    assert body["type"] == "error"  # type: ignore[index]
    assert body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "tool_choice" in body["error"]["message"]  # type: ignore[index]
    assert body["request_id"].startswith("jr-")  # type: ignore[index]


def test_a_stream_cut_mid_way_ends_with_an_error_event(gateway: Gateway, vllm_url: str) -> None:
    emulator_config(vllm_url, cut_after_chunks=4)
    r = httpx.post(gateway.v1 + "/messages", timeout=30, json={
        "model": "local", "max_tokens": 50, "stream": True,
        "messages": [{"role": "user", "content": "Hello"}]})
    events = sse_events(r)
    assert events[0][0] == "message_start"
    assert events[-1][0] == "error" and events[-1][1]["error"]["type"] == "api_error"
    assert "message_stop" not in [name for name, _ in events]


def test_fail_closed_is_overloaded(client: anthropic.Anthropic, vllm_url: str,
                                   claude_url: str) -> None:
    emulator_config(vllm_url, error_rate=1.0)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="auto", max_tokens=5, messages=[
            {"role": "user", "content": "My IBAN is DE89370400440532013000, file it."}])
    assert info.value.status_code == 529
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert info.value.response.headers["retry-after"]
    assert bodies(claude_url) == []


def test_body_over_the_limit_is_request_too_large(gateway: Gateway) -> None:
    limit = gateway.app.state.settings.max_body_bytes
    r = httpx.post(gateway.v1 + "/messages", timeout=30, content=b"x" * (limit + 1))
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"


# -- spill-over applies as on the chat door --------------------------------------------------


@pytest.fixture
def saturated_local() -> Iterator[str]:
    """A vLLM emulator whose KV cache stays full while one request holds it."""
    behaviour = EmulatorBehaviour(models=(LOCAL_MODEL,), kv_cache_tokens=1)
    with run_in_thread(create_vllm_app(behaviour)) as url, httpx.Client(timeout=None) as http:
        emulator_config(url, ttft=600.0)
        holder = threading.Thread(target=_hold, args=(http, url), daemon=True)
        holder.start()
        _until(lambda: _running(http, url) >= 1, "the holding request never ran")
        emulator_config(url, ttft=0.0)  # later requests are answered at once
        yield url
    holder.join(timeout=10)


def _hold(http: httpx.Client, url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # ends when the emulator closes
        http.post(url + "/v1/chat/completions", json={
            "model": LOCAL_MODEL, "messages": [{"role": "user", "content": "hold"}]})


def _running(http: httpx.Client, url: str) -> float:
    for line in http.get(url + "/metrics").text.splitlines():
        if line.startswith("vllm:num_requests_running"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _until(condition: Callable[[], bool], failure: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def test_a_saturated_local_model_spills_over_to_the_anthropic_model(
    saturated_local: str, api_url: str, claude_url: str, tmp_path: Path,
) -> None:
    text = policy(saturated_local, api_url, claude_url).replace(
        """  - name: default
    candidates: [local, api]
    objective: min_cost""", """  - name: default
    candidates: [local, claude]
    spill: {max_kv_cache: 0.5}""")
    with running_gateway(text, tmp_path, ENV, probe_interval_s=0.05) as gw:
        client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)

        def spills() -> bool:
            raw = client.messages.with_raw_response.create(
                model="auto", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
            return "x-junction-spilled" in raw.headers

        _until(spills, "the saturated local model never made the route spill")
        raw = client.messages.with_raw_response.create(
            model="auto", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
        assert raw.headers["x-junction-model"] == "claude"
        assert raw.headers["x-junction-spilled"].startswith("local: local saturated")
        assert raw.parse().model == "claude-emulated"  # passed through, untranslated


def test_a_bad_junction_key_is_refused_even_where_keys_are_optional(gateway: Gateway) -> None:
    body = {"model": "local", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
    r = httpx.post(gateway.v1 + "/messages", json=body, headers={"x-api-key": "jk-wrong"},
                   timeout=30)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = httpx.post(gateway.v1 + "/messages", json=body, headers={"x-api-key": "demo"},
                   timeout=30)
    assert r.status_code == 200, r.text
