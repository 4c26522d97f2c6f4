"""Property: a planted sensitive value never reaches an external model, however it is sent.

Hypothesis plants a value of each kind (`PLANTED`) under a disguise (`DISGUISES`) in one field
of a request sent through one of the gateway's doors (`DOORS`: chat completions, Responses,
embeddings) (message text, content parts, a text file, a message name, a tool's description,
schema or result, tool-call arguments, ``response_format``, ``user``, ``metadata``, ``stop``,
``prediction``, an unknown ``documents`` field) of a chat-completions request or of an
Anthropic Messages request (the same fields where Messages has them: system blocks, document
blocks, tool_use input, tool_result content...), sends it through a real gateway with a policy
drawn from a few shapes (external model first, fallbacks and default fallbacks, the external
model named directly, the local model down, the local model saturated so that its route spills
over to the API), and reads what the external emulators (OpenAI, and Anthropic reached by
passthrough or translation) received.

Gateways and emulators are started once for the module; the emulators' recorded requests are
cleared for each example.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from junction_emulate import (
    EmulatorBehaviour,
    create_anthropic_app,
    create_openai_app,
    create_vllm_app,
    run_in_thread,
)
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL
from tests.support.gateway import Gateway, closed_port_url, running_gateway
from tests.support.sensitive_values import DISGUISES, PLANTED, Planted, encodings

# Switch on once helper "scan"'s normalisation and decoding are merged: then every planted
# value, under every disguise, must be stopped too. Until then this branch detects the values
# below in plain text, percent-encoded and with zero-width characters.
VALUES: tuple[Planted, ...] = PLANTED
DISGUISE_NAMES: tuple[str, ...] = tuple(DISGUISES)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _tool(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", "description": "Look it up.",
                                             **function}}


def _call(arguments: str) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [{
        "id": "call_1", "type": "function",
        "function": {"name": "lookup", "arguments": arguments}}]}


ASK = {"role": "user", "content": "please help with this"}


def plant(field: str, text: str) -> dict[str, Any]:
    """A request body carrying `text` in `field`."""
    body: dict[str, Any] = {"messages": [dict(ASK)]}
    if field == "content":
        body["messages"][0]["content"] = f"note: {text}"
    elif field == "content_part":
        body["messages"][0]["content"] = [{"type": "text", "text": "see below"},
                                          {"type": "text", "text": text}]
    elif field == "file_data":
        body["messages"][0]["content"] = [{"type": "text", "text": "summarise the file"}, {
            "type": "file", "file": {"filename": "notes.txt",
                                     "file_data": "data:text/plain;base64," + _b64(text)}}]
    elif field == "name":
        body["messages"][0]["name"] = text
    elif field == "tool_description":
        body["tools"] = [_tool(description=text)]
    elif field == "tool_schema":
        body["tools"] = [_tool(parameters={"type": "object", "properties": {
            "note": {"type": "string", "description": text}}})]
    elif field == "tool_arguments":
        body["messages"] += [_call(json.dumps({"note": text})),
                             {"role": "tool", "tool_call_id": "call_1", "content": "done"}]
    elif field == "tool_result":
        body["messages"] += [_call("{}"),
                             {"role": "tool", "tool_call_id": "call_1", "content": text}]
    elif field == "response_format":
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "description": text}}}
    elif field == "user":
        body["user"] = text
    elif field == "metadata":
        body["metadata"] = {"note": text}
    elif field == "stop":
        body["stop"] = ["END", text]
    elif field == "prediction":
        body["prediction"] = {"type": "content", "content": text}
    elif field == "documents":
        body["documents"] = [{"title": "notes", "text": text}]
    else:
        raise AssertionError(f"unknown field {field!r}")
    return body


def plant_messages(field: str, text: str) -> dict[str, Any]:
    """An Anthropic Messages body carrying `text` in the place that stands for `field`."""
    ask: dict[str, Any] = {"role": "user", "content": "please help with this"}
    body: dict[str, Any] = {"messages": [ask]}
    tool = {"name": "lookup", "description": "Look it up.",
            "input_schema": {"type": "object", "properties": {}}}
    call = {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}]}
    if field == "content":
        ask["content"] = f"note: {text}"
    elif field == "content_part":
        ask["content"] = [{"type": "text", "text": "see below"}, {"type": "text", "text": text}]
    elif field == "file_data":
        ask["content"] = [{"type": "text", "text": "summarise the file"}, {
            "type": "document", "source": {"type": "base64", "media_type": "text/plain",
                                           "data": _b64(text)}}]
    elif field in ("name", "response_format"):
        body["system"] = [{"type": "text", "text": "be brief"}, {"type": "text", "text": text}]
    elif field == "tool_description":
        body["tools"] = [{**tool, "description": text}]
    elif field == "tool_schema":
        body["tools"] = [{**tool, "input_schema": {"type": "object", "properties": {
            "note": {"type": "string", "description": text}}}}]
    elif field == "tool_arguments":
        call["content"][0]["input"] = {"note": text}
        body["messages"] += [call, {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]}]
    elif field == "tool_result":
        body["messages"] += [call, {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": text}]}]}]
    elif field in ("user", "metadata"):
        body["metadata"] = {"user_id": text}
    elif field == "stop":
        body["stop_sequences"] = ["END", text]
    elif field in ("prediction", "documents"):
        ask["content"] = [{"type": "document", "source": {"type": "text",
                                                          "media_type": "text/plain",
                                                          "data": text}}]
    else:
        raise AssertionError(f"unknown field {field!r}")
    return body


FIELDS = ("content", "content_part", "file_data", "name", "tool_description", "tool_schema",
          "tool_arguments", "tool_result", "response_format", "user", "metadata", "stop",
          "prediction", "documents")


def chat_request(target: str, stream: bool, field: str, text: str) -> tuple[str, dict[str, Any]]:
    return "/chat/completions", {"model": target, "stream": stream, **plant(field, text)}


# The embeddings door's names for the chat targets: its default route, its route, its models.
EMBEDDING_TARGETS = {"auto": "auto", "default": "embed", "api": "embed-api",
                     "api2": "embed-api2"}


def embeddings_request(target: str, stream: bool, field: str,
                       text: str) -> tuple[str, dict[str, Any]] | None:
    """The planted text as an input (among others), the `user`, or a passed-through field."""
    if target not in EMBEDDING_TARGETS:
        return None  # an Anthropic model serves no embeddings
    body: dict[str, Any] = {"model": EMBEDDING_TARGETS[target], "input": [ASK["content"]]}
    if field == "user":
        body["user"] = text
    elif field in ("metadata", "documents"):
        body[field] = {"note": text}
    elif field == "content":
        body["input"] = f"note: {text}"
    else:
        body["input"].append(text)
    return "/embeddings", body


def responses_request(target: str, stream: bool, field: str,
                      text: str) -> tuple[str, dict[str, Any]] | None:
    """The chat request in the Responses shape; None for the fields that door never forwards
    (a Responses message item has no `name`; `metadata` labels the response, which a stateless
    gateway echoes and does not send upstream), so nothing planted there goes anywhere."""
    if field in ("name", "metadata"):
        return None
    return "/responses", responses_body({"model": target, "stream": stream,
                                         **plant(field, text)})


def messages_request(target: str, stream: bool, field: str,
                     text: str) -> tuple[str, dict[str, Any]]:
    return "/messages", {"model": target, "stream": stream, "max_tokens": 64,
                         **plant_messages(field, text)}


# Each door: (target, stream, field, text) -> (path under /v1, body), or None where the door
# has no such field.
DOORS: dict[str, Callable[[str, bool, str, str], tuple[str, dict[str, Any]] | None]] = {
    "chat": chat_request,
    "responses": responses_request,
    "messages": messages_request,
    "embeddings": embeddings_request,
}


def policy(local: str, api: str, shape: str, claude: str) -> str:
    routes = {
        # the external model is the first choice; the local one a fallback
        "external_first": """
  - name: default
    candidates: [api]
    fallbacks: [local]
""",
        # two external models first, the defaults' fallbacks after them
        "fallbacks": """
  - name: default
    candidates: [api, api2]
    fallbacks: [local]
    on_unavailable: fallback
""",
        # the local model is first but down; the API is next
        "local_down": """
  - name: default
    candidates: [local, api]
    on_unavailable: fallback
""",
        # the local model is saturated: its route spills over to the API
        "spill": """
  - name: default
    candidates: [local, api]
    spill: {max_kv_cache: 0.5}
""",
    }[shape]
    # The same shape for the embeddings door, on its own models.
    routes += re.sub(r"(?<![\w-])(local|api2|api)(?![\w-])", r"embed-\1", routes).replace(
        "name: default", "name: embed")
    endpoint = closed_port_url() if shape == "local_down" else local
    return f"""
version: 1
models:
  local:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{endpoint}"]
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
  api2:
    backend: openai
    model: api-large
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 1.0, output_per_million: 4.0}}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
  embed-local:
    backend: local
    kind: embedding
    model: {LOCAL_EMBEDDING_MODEL}
    endpoints: ["{endpoint}"]
  embed-api:
    backend: openai
    kind: embedding
    model: api-small
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.02}}
  embed-api2:
    backend: openai
    kind: embedding
    model: api-large
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.13}}
  claude:
    backend: anthropic
    model: claude-emulated
    endpoints: ["{claude}"]
    api_key_env: ANTHROPIC_KEY
    prices: {{input_per_million: 3.0, output_per_million: 15.0}}
    capabilities: [tools, vision, json_schema]
    context_window: 200000
routes:
{routes}
defaults:
  fallbacks: [api2, claude, embed-api2]
  embedding_route: embed
"""


def responses_body(body: dict[str, Any]) -> dict[str, Any]:
    """The same request in the OpenAI Responses shape: messages as input items, tools flat,
    `response_format` as `text.format`; every other field as it is."""
    out = {k: v for k, v in body.items() if k not in ("messages", "tools", "response_format")}
    parts = {"text": lambda p: {"type": "input_text", "text": p["text"]},
             "file": lambda p: {"type": "input_file", **p["file"]}}
    items: list[dict[str, Any]] = []
    for message in body["messages"]:
        if message["role"] == "tool":
            items.append({"type": "function_call_output", "call_id": message["tool_call_id"],
                          "output": message["content"]})
            continue
        for call in message.get("tool_calls") or ():
            items.append({"type": "function_call", "call_id": call["id"],
                          **call["function"]})
        if message.get("content") is not None:
            content = message["content"]
            if isinstance(content, list):
                content = [parts[p["type"]](p) for p in content]
            extra = {k: v for k, v in message.items() if k not in ("content", "tool_calls")}
            items.append({"type": "message", **extra, "content": content})
    out["input"] = items
    if "tools" in body:
        out["tools"] = [{"type": "function", **tool["function"]} for tool in body["tools"]]
    if "response_format" in body:
        schema = body["response_format"]["json_schema"]
        out["text"] = {"format": {"type": "json_schema", "name": schema["name"],
                                  "schema": schema["schema"]}}
    return out


SHAPES = ("external_first", "fallbacks", "local_down", "spill")
LOCAL_EMBEDDING_MODEL = "embed-test"
# a route, the route by name, models by name
TARGETS = ("auto", "default", "api", "api2", "claude")


@pytest.fixture(scope="module")
def leak_local() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=(LOCAL_MODEL, LOCAL_EMBEDDING_MODEL))
    with run_in_thread(create_vllm_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def leak_external() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("api-small", "api-large"), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def leak_anthropic() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("claude-emulated",), api_key="sk-ant-test")
    with run_in_thread(create_anthropic_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="module")
def saturated_local() -> Iterator[str]:
    """A vLLM emulator whose KV cache stays full: one request holds it for the whole module."""
    behaviour = EmulatorBehaviour(models=(LOCAL_MODEL, LOCAL_EMBEDDING_MODEL), kv_cache_tokens=1)
    with run_in_thread(create_vllm_app(behaviour)) as url, httpx.Client(timeout=None) as http:
        http.post(url + "/_emulator/config", json={"ttft": 600.0}).raise_for_status()

        def hold() -> None:
            # Ends when the emulator closes at the end of the module.
            with contextlib.suppress(httpx.HTTPError):
                http.post(url + "/v1/chat/completions", json={
                    "model": LOCAL_MODEL, "messages": [{"role": "user", "content": "hold"}]})

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        _wait_for(lambda: _running(http, url) >= 1, "the holding request never ran")
        # Requests from now on are answered at once; the holding one keeps its 600 s.
        http.post(url + "/_emulator/config", json={"ttft": 0.0}).raise_for_status()
        yield url
    holder.join(timeout=10)


def _running(http: httpx.Client, url: str) -> float:
    for line in http.get(url + "/metrics").text.splitlines():
        if line.startswith("vllm:num_requests_running"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_for(condition: Callable[[], bool], failure: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def leak_gateways(
    leak_local: str, saturated_local: str, leak_external: str, leak_anthropic: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Gateway]]:
    gateways: dict[str, Gateway] = {}
    contexts = []
    try:
        for shape in SHAPES:
            local = saturated_local if shape == "spill" else leak_local
            context = running_gateway(policy(local, leak_external, shape, leak_anthropic),
                                      tmp_path_factory.mktemp(shape), ENV, probe_interval_s=0.05,
                                      timeouts={"connect_s": 1.0, "first_byte_s": 5.0})
            gateways[shape] = context.__enter__()
            contexts.append(context)
        spill = gateways["spill"]

        def spills() -> bool:
            out = httpx.post(spill.v1 + "/route/explain", timeout=10, json={
                "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
            return bool(out["spilled"]) and out["attempt_order"][0] == "api"

        # A clean request would go to the API now: the shape tests what it claims to.
        _wait_for(spills, "the saturated local model never made the route spill")
        yield gateways
    finally:
        for context in reversed(contexts):
            context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client for the module: building one per call costs more than the call."""
    with httpx.Client(timeout=30) as http:
        yield http


def strings(value: Any) -> Iterator[str]:
    """Every key, string and number in a recorded body."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    planted=st.sampled_from(VALUES),
    disguise=st.sampled_from(DISGUISE_NAMES),
    field=st.sampled_from(FIELDS),
    shape=st.sampled_from(SHAPES),
    target=st.sampled_from(TARGETS),
    stream=st.booleans(),
    door=st.sampled_from(tuple(DOORS)),
)
def test_no_planted_value_reaches_an_external_model(
    leak_gateways: dict[str, Gateway], leak_external: str, leak_anthropic: str,
    client: httpx.Client, planted: Planted, disguise: str, field: str, shape: str, target: str,
    stream: bool, door: str,
) -> None:
    externals = (leak_external, leak_anthropic)
    for url in externals:
        client.post(url + "/_emulator/reset").raise_for_status()
    text = planted.text(DISGUISES[disguise](planted.value))
    sent = DOORS[door](target, stream, field, text)
    assume(sent is not None)
    assert sent is not None
    path, body = sent
    r = client.post(leak_gateways[shape].v1 + path, json=body)
    if door == "messages":
        # Anthropic's clients know "nothing may serve now" as 529 overloaded_error.
        assert r.status_code < 500 or r.status_code == 529, r.text
    else:
        # Served or refused for what it holds; a 400 would mean the door never read it.
        assert r.status_code != 400 and (r.status_code < 500 or r.status_code == 503), r.text
    received = []
    for url in externals:
        recorded = client.get(url + "/_emulator/requests")
        recorded.raise_for_status()
        data = recorded.json()
        requests = data["requests"] if isinstance(data, dict) else data
        received += [s for request in requests for s in strings(request["body"])]
    forms = {text, DISGUISES[disguise](planted.value), *encodings(planted.value)}
    for form in forms:
        assert not any(form in s for s in received), (
            f"{planted.kind} ({disguise}) in {field} reached the external model via "
            f"{shape}/{target} through the {door} door")
    # Every example carries a sensitive value, so an external model should get nothing at all.
    assert received == [], (
        f"{planted.kind} ({disguise}) in {field} via {shape}/{target}, {door} door")
