"""The Anthropic emulator, driven by litellm (as Junction drives Anthropic) and raw HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import litellm
import pytest
from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

from junction_emulate import EmulatorBehaviour, create_anthropic_app
from tests.integration.emulate.conftest import Serve

# litellm lazily imports its GitHub Copilot module on first call, and pydantic warns about a
# ReadOnly TypedDict there; the warning is litellm's, not the emulator's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Items? .* using the `ReadOnly` qualifier:UserWarning"
)

T = TypeVar("T")
KEY = "sk-ant-emulated"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
MESSAGES = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(autouse=True)
def litellm_as_junction_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Junction's provider turns litellm's aiohttp transport off (its sessions outlive the
    # event loop they were made on); this test drives litellm the same way. With aiohttp on,
    # a streamed call's socket was left to the garbage collector and failed a random later test.
    monkeypatch.setattr(litellm, "disable_aiohttp_transport", True)


@pytest.fixture
def url(serve: Serve) -> str:
    return serve(create_anthropic_app(EmulatorBehaviour(models=("claude-emulated",), api_key=KEY)))


def _run(call: Callable[[], Awaitable[T]]) -> T:
    """Run litellm calls on a fresh loop, then close the clients litellm cached on it."""

    async def main() -> T:
        try:
            return await call()
        finally:
            await close_litellm_async_clients()  # type: ignore[no-untyped-call]
            litellm.in_memory_llm_clients_cache.flush_cache()  # type: ignore[no-untyped-call]

    return asyncio.run(main())


def _complete(url: str, **kwargs: Any) -> Any:
    async def call() -> Any:
        return await litellm.acompletion(
            model="anthropic/claude-emulated", api_base=url, api_key=KEY, num_retries=0, **kwargs
        )

    return _run(call)


def _stream(url: str, **kwargs: Any) -> list[Any]:
    async def call() -> list[Any]:
        stream = await litellm.acompletion(
            model="anthropic/claude-emulated",
            api_base=url,
            api_key=KEY,
            num_retries=0,
            stream=True,
            **kwargs,
        )
        return [chunk async for chunk in stream]

    return _run(call)


def test_litellm_completion(url: str) -> None:
    response = _complete(url, messages=MESSAGES, max_tokens=100)

    choice = response.choices[0]
    assert choice.message.content.startswith(
        "[emulated reply from claude-emulated via Junction's emulator]"
    )
    assert choice.finish_reason == "stop"
    assert response.usage.completion_tokens == 16
    assert response.usage.prompt_tokens == len("Say hello.") // 4


def test_litellm_stream(url: str) -> None:
    chunks = _stream(url, messages=MESSAGES, max_tokens=5, stream_options={"include_usage": True})

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[emulated reply from claude-emulated via"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length"]
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage[-1].completion_tokens == 5


def test_litellm_tool_use_streamed_and_not(url: str) -> None:
    messages = [{"role": "user", "content": "use get_weather for Oslo"}]
    response = _complete(url, messages=messages, tools=[WEATHER_TOOL], max_tokens=100)
    (call,) = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example"}
    assert response.choices[0].finish_reason == "tool_calls"

    chunks = _stream(url, messages=messages, tools=[WEATHER_TOOL], max_tokens=100)
    arguments = "".join(
        call.function.arguments or ""
        for chunk in chunks
        for call in (chunk.choices[0].delta.tool_calls or [] if chunk.choices else [])
    )
    assert json.loads(arguments) == {"city": "example"}


def _events(http: httpx.Client, url: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    with http.stream("POST", f"{url}/v1/messages", json=body, headers=HEADERS) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    names = [line.removeprefix("event: ") for line in lines[0::2]]
    payloads = [json.loads(line.removeprefix("data: ")) for line in lines[1::2]]
    assert all(name == payload["type"] for name, payload in zip(names, payloads, strict=True))
    return list(zip(names, payloads, strict=True))


def test_stream_has_anthropics_event_sequence(url: str, http: httpx.Client) -> None:
    body = {"model": "claude-emulated", "max_tokens": 3, "messages": MESSAGES, "stream": True}
    events = _events(http, url, body)

    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert (
        start["role"] == "assistant"
        and start["content"] == []
        and start["usage"]["input_tokens"] >= 1
    )
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "[emulated"}
    assert events[7][1]["delta"]["stop_reason"] == "max_tokens"
    assert events[7][1]["usage"] == {"output_tokens": 3}


def test_tool_use_streams_input_json_deltas(url: str, http: httpx.Client) -> None:
    body = {
        "model": "claude-emulated",
        "max_tokens": 100,
        "messages": MESSAGES,
        "stream": True,
        "tools": [
            {
                "name": "lookup",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "any"},
    }
    events = _events(http, url, body)

    block = events[1][1]["content_block"]
    assert (
        block["type"] == "tool_use"
        and block["name"] == "lookup"
        and block["id"].startswith("toolu_")
    )
    deltas = [payload["delta"] for name, payload in events if name == "content_block_delta"]
    assert {delta["type"] for delta in deltas} == {"input_json_delta"}
    assert json.loads("".join(delta["partial_json"] for delta in deltas)) == {"q": "example"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_message_object_shape(url: str, http: httpx.Client) -> None:
    body = {
        "model": "claude-emulated",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": MESSAGES,
    }
    message = http.post(f"{url}/v1/messages", json=body, headers=HEADERS).json()

    assert message["type"] == "message"
    assert message["id"].startswith("msg_")
    assert message["content"][0]["type"] == "text"
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["output_tokens"] == 16


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({"anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ({"x-api-key": "wrong", "anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ({"x-api-key": KEY}, 400, "invalid_request_error"),
    ],
)
def test_header_errors_have_anthropics_shape(
    url: str, http: httpx.Client, headers: dict[str, str], status: int, kind: str
) -> None:
    body = {"model": "claude-emulated", "max_tokens": 10, "messages": MESSAGES}
    response = http.post(f"{url}/v1/messages", json=body, headers=headers)

    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == kind


@pytest.mark.parametrize(("status", "kind"), [(529, "overloaded_error"), (429, "rate_limit_error")])
def test_injected_errors_have_anthropics_shape(
    url: str, http: httpx.Client, status: int, kind: str
) -> None:
    http.post(f"{url}/_emulator/config", json={"fail_next": 1, "error_status": status})
    body = {"model": "claude-emulated", "max_tokens": 10, "messages": MESSAGES}

    response = http.post(f"{url}/v1/messages", json=body, headers=HEADERS)
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind
    assert http.post(f"{url}/v1/messages", json=body, headers=HEADERS).status_code == 200


def test_max_tokens_is_required(url: str, http: httpx.Client) -> None:
    body = {"model": "claude-emulated", "messages": MESSAGES}
    response = http.post(f"{url}/v1/messages", json=body, headers=HEADERS)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "max_tokens: Field required"
