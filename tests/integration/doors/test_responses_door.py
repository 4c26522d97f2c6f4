"""The OpenAI Responses door end to end: the official `openai` client's `responses` API against
a real gateway on loopback, with the vLLM and OpenAI emulators as upstreams."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel

from junction_emulate import EmulatorBehaviour, create_openai_app, create_vllm_app, run_in_thread
from tests.integration.gateway.conftest import DEFAULTS, ENV, LOCAL_MODEL, policy_text
from tests.support.gateway import (
    Gateway,
    emulator_config,
    emulator_requests,
    emulator_reset,
    running_gateway,
)

PII = "Please update the record for john.smith@example.com, card 4111 1111 1111 1111."
ADMIN = "responses-door-admin"


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(LOCAL_MODEL,)))) as url:
        yield url


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("api-small", "api-large"), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(vllm_url: str, api_url: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path_factory.mktemp("gw"), ENV,
                         admin_token=ADMIN,
                         breaker={"failure_threshold": 3, "cooldown_s": 0.5},
                         timeouts={"connect_s": 1.0, "first_byte_s": 1.5,
                                   "stream_idle_s": 2.0}) as gw:
        try:
            yield gw
        finally:
            while _CLIENTS:
                _CLIENTS.pop().close()


@pytest.fixture(autouse=True)
def _fresh_emulators(vllm_url: str, api_url: str) -> None:
    for url in (vllm_url, api_url):
        emulator_reset(url)
        emulator_config(url, **DEFAULTS)


_CLIENTS: list[openai.OpenAI] = []


def client(gw: Gateway, api_key: str = "anything") -> openai.OpenAI:
    """An official client for `gw`; closed when the module's gateway stops."""
    made = openai.OpenAI(base_url=gw.v1, api_key=api_key, max_retries=0, timeout=10)
    _CLIENTS.append(made)
    return made


WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"], "additionalProperties": False},
           "strict": True}


def test_plain_create_is_translated_both_ways(gateway: Gateway, vllm_url: str) -> None:
    raw = client(gateway).responses.with_raw_response.create(
        model="auto", instructions="Answer briefly.", input="Hello there, how are you?",
        max_output_tokens=200, temperature=0.5, metadata={"ticket": "42"}, store=False)
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.id == "resp_" + raw.headers["x-junction-request-id"].removeprefix("jr-")
    assert "emulated" in response.output_text
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message"]  # the vLLM emulator thinks, Qwen3-style
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.usage.total_tokens == (response.usage.input_tokens
                                           + response.usage.output_tokens)
    assert response.metadata == {"ticket": "42"} and response.instructions == "Answer briefly."
    assert raw.http_response.json()["store"] is False
    assert raw.headers["x-junction-route"] == "default"
    assert raw.headers["x-junction-model"] == "local"
    assert raw.headers["x-junction-attempts"] == "local:ok"
    sent = emulator_requests(vllm_url)[-1]["body"]
    assert sent["messages"] == [{"role": "system", "content": "Answer briefly."},
                                {"role": "user", "content": "Hello there, how are you?"}]
    assert sent["max_completion_tokens"] == 200 and sent["temperature"] == 0.5
    assert "store" not in sent and "input" not in sent and "metadata" not in sent


def test_store_true_is_served_but_answered_false(gateway: Gateway) -> None:
    r = httpx.post(gateway.v1 + "/responses", timeout=10,
                   json={"model": "auto", "input": "hello", "store": True})
    assert r.status_code == 200 and r.json()["store"] is False


def test_cut_by_max_output_tokens_is_incomplete(gateway: Gateway) -> None:
    response = client(gateway).responses.create(model="auto", input="Tell me a story",
                                                max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def _events(stream: Any) -> list[Any]:
    events = list(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


def test_streamed_events_come_in_order(gateway: Gateway) -> None:
    events = _events(client(gateway).responses.create(
        model="auto", input="Tell me something", stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    message = types.index("response.output_text.delta")
    assert types[message - 2:message] == ["response.output_item.added",
                                          "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert "response.reasoning_text.delta" in types
    assert types.index("response.reasoning_text.done") < message
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    final = events[-1].response
    assert "emulated" in text and done.text == text and final.output_text == text
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.usage is not None and final.usage.output_tokens > 0
    added = [e.output_index for e in events if e.type == "response.output_item.added"]
    assert added == [0, 1]


def test_stream_helper_gives_the_final_response(gateway: Gateway) -> None:
    with client(gateway).responses.stream(model="auto", input="Say hello") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.status == "completed" and final.output_text == "".join(deltas)


def test_streamed_cut_is_incomplete(gateway: Gateway) -> None:
    events = _events(client(gateway).responses.create(
        model="auto", input="Tell me a story", stream=True, max_output_tokens=3))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_upstream_breaking_mid_stream_fails_the_response(gateway: Gateway,
                                                         vllm_url: str) -> None:
    emulator_config(vllm_url, cut_after_chunks=4)
    events = _events(client(gateway).responses.create(
        model="local", input="Tell me a story", stream=True))
    types = [e.type for e in events]
    assert types[-2:] == ["error", "response.failed"]
    assert events[-1].response.error is not None
    assert "mid-stream" in events[-1].response.error.message


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip(gateway: Gateway, vllm_url: str, stream: bool) -> None:
    openai_client = client(gateway)
    ask = {"role": "user", "content": "Use get_weather for Paris, please."}
    if stream:
        events = _events(openai_client.responses.create(
            model="local", input=[ask], tools=[WEATHER], stream=True))
        types = [e.type for e in events]
        assert "response.function_call_arguments.delta" in types
        args_done = next(e for e in events
                         if e.type == "response.function_call_arguments.done")
        assert args_done.name == "get_weather"
        first = events[-1].response
    else:
        first = openai_client.responses.create(model="local", input=[ask], tools=[WEATHER],
                                               tool_choice="auto", parallel_tool_calls=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments).keys() == {"city"}
    history: list[Any] = [ask, *[item.model_dump(exclude_none=True) for item in first.output],
                          {"type": "function_call_output", "call_id": calls[0].call_id,
                           "output": "sunny, 21 C"}]
    second = openai_client.responses.create(model="local", input=history, tools=[WEATHER])
    assert "emulated" in second.output_text
    sent = emulator_requests(vllm_url)[-1]["body"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["id"] == calls[0].call_id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": calls[0].call_id,
                                   "content": "sunny, 21 C"}


def test_named_tool_choice(gateway: Gateway, vllm_url: str) -> None:
    response = client(gateway).responses.create(
        model="local", input="what now?", tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"})
    assert [item.type for item in response.output][-1] == "function_call"
    sent = emulator_requests(vllm_url)[-1]["body"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


class Answer(BaseModel):
    city: str
    degrees: int


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                           "degrees": {"type": "integer"}},
          "required": ["city", "degrees"], "additionalProperties": False}


def test_structured_output_with_json_schema(gateway: Gateway, vllm_url: str) -> None:
    response = client(gateway).responses.create(
        model="local", input="Weather in Paris as JSON",
        text={"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA,
                         "strict": True}})
    value = json.loads(response.output_text)
    assert set(value) == {"city", "degrees"} and isinstance(value["degrees"], int)
    sent = emulator_requests(vllm_url)[-1]["body"]
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": SCHEMA, "strict": True}}


def test_parse_with_a_pydantic_model(gateway: Gateway) -> None:
    response = client(gateway).responses.parse(model="auto", input="Weather in Paris",
                                               text_format=Answer)
    assert isinstance(response.output_parsed, Answer)


def test_reasoning_effort_reaches_the_upstream(gateway: Gateway, api_url: str) -> None:
    client(gateway).responses.create(model="api", input="think hard",
                                     reasoning={"effort": "low"})
    assert emulator_requests(api_url)[-1]["body"]["reasoning_effort"] == "low"


def test_input_parts_are_translated(gateway: Gateway, api_url: str) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    client(gateway).responses.create(model="api", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": image, "detail": "low"},
        {"type": "input_file", "filename": "a.txt",
         "file_data": "data:text/plain;base64,aGk="}]}])
    parts = emulator_requests(api_url)[-1]["body"]["messages"][0]["content"]
    assert parts == [{"type": "text", "text": "what is this?"},
                     {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
                     {"type": "file", "file": {"filename": "a.txt",
                                               "file_data": "data:text/plain;base64,aGk="}}]


def test_previous_response_id_is_a_clear_400(gateway: Gateway, vllm_url: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client(gateway).responses.create(model="auto", input="and then?",
                                         previous_response_id="resp_123")
    assert info.value.param == "previous_response_id"
    assert "stateless" in info.value.message
    assert emulator_requests(vllm_url) == []


def test_stored_responses_are_a_clear_404(gateway: Gateway) -> None:
    openai_client = client(gateway)
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.responses.retrieve("resp_123")
    assert info.value.code == "response_not_found" and "stateless" in info.value.message
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.delete("resp_123")
    with pytest.raises(openai.NotFoundError):
        openai_client.responses.input_items.list("resp_123")


@pytest.mark.parametrize(("body", "param"), [
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0].type"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type"),
    ({"background": True}, "background"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"input": 5}, "input"),
])
def test_unsupported_or_invalid_requests_get_400(gateway: Gateway, body: dict[str, Any],
                                                 param: str) -> None:
    r = httpx.post(gateway.v1 + "/responses", timeout=10,
                   json={"model": "auto", "input": "hi", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert r.headers["x-request-id"]


def test_bad_key_is_401(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(gateway, api_key="jk-nosuchkey-secret").responses.create(model="auto",
                                                                          input="hi")


@pytest.mark.parametrize("stream", [False, True])
def test_sensitive_input_stays_local(gateway: Gateway, api_url: str, stream: bool) -> None:
    r = httpx.post(gateway.v1 + "/responses", timeout=10,
                   json={"model": "auto", "input": PII, "stream": stream})
    assert r.status_code == 200
    assert r.headers["x-junction-route"] == "sensitive"
    assert r.headers["x-junction-model"] == "local"
    assert r.headers["x-junction-sensitivity"] == "pii"
    assert emulator_requests(api_url) == []


def test_sensitive_named_for_external_model_is_403(gateway: Gateway, api_url: str) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(gateway).responses.create(model="api", input=[
            {"role": "user", "content": [{"type": "input_text", "text": PII}]}])
    assert info.value.code == "sensitive_data_external_model"
    assert emulator_requests(api_url) == []


@pytest.mark.parametrize("stream", [False, True])
def test_sensitive_fails_closed_when_local_fails(gateway: Gateway, vllm_url: str,
                                                 api_url: str, stream: bool) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=500)
    r = httpx.post(gateway.v1 + "/responses", timeout=10, json={
        "model": "auto", "stream": stream,
        "input": [{"type": "function_call_output", "call_id": "c1", "output": PII}]})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "no_local_model_available"
    assert "john.smith" not in r.text
    assert emulator_requests(api_url) == []


def test_budget_exceeded_is_429(gateway: Gateway) -> None:
    auth = {"authorization": f"Bearer {ADMIN}"}
    team = httpx.post(gateway.url + "/admin/teams", headers=auth, json={
        "name": "tiny", "limits": {"daily_usd": 0.0000001}})
    assert team.status_code in (200, 201), team.text
    key = httpx.post(gateway.url + "/admin/keys", headers=auth,
                     json={"team": "tiny"}).json()["key"]
    openai_client = client(gateway, api_key=key)
    deadline = time.monotonic() + 20
    while True:
        try:
            openai_client.responses.create(model="api", input="hello, how are things?")
        except openai.RateLimitError as exc:
            assert exc.code == "budget_exceeded"
            break
        assert time.monotonic() < deadline, "the budget never ran out"


def test_records_and_explain_headers(gateway: Gateway) -> None:
    raw = client(gateway).responses.with_raw_response.create(model="api", input="hi there")
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-junction-model"] == "api"
    assert float(raw.headers["x-junction-overhead-ms"]) >= 0
    db = Path(gateway.app.state.settings.data_dir) / "junction.db"
    deadline = time.monotonic() + 20
    while True:
        with sqlite3.connect(db, timeout=10) as conn:
            row = conn.execute("SELECT answered_by, status FROM request_records "
                               "WHERE request_id = ?", (request_id,)).fetchone()
        if row is not None:
            break
        assert time.monotonic() < deadline, "no record within 20 s"
        time.sleep(0.05)
    assert row == ("api", 200)


@pytest.mark.parametrize("query", ["?shape=responses", ""])
def test_explain_accepts_the_responses_shape(gateway: Gateway, query: str) -> None:
    r = httpx.post(gateway.v1 + "/route/explain" + query, timeout=10, json={
        "model": "auto", "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": PII}]}]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["shape"] == "responses" and out["route"] == "sensitive"


def test_explain_names_unknown_shapes(gateway: Gateway) -> None:
    r = httpx.post(gateway.v1 + "/route/explain?shape=nope", timeout=10,
                   json={"model": "auto", "input": "hi"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "shape"
    chat = httpx.post(gateway.v1 + "/route/explain", timeout=10, json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200 and chat.json()["shape"] == "chat"
