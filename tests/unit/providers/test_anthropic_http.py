"""`AnthropicHttpProvider` against hostile and ordinary upstreams, through httpx's real
`MockTransport` seam: passthrough bodies and streams as they came, chat translated, every
malformed answer a failed attempt rather than a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from router.policy.schema import ModelSpec
from router.providers.anthropic_http import AnthropicHttpProvider, MessagesStream
from router.providers.base import AttemptFailed, CallTarget, NativeBody
from router.settings import LimitsSettings, TimeoutSettings

SPEC = ModelSpec(backend="anthropic", model="claude-x")
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
           "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
           "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 2}}
NATIVE_BODY = {"model": "claude-x", "max_tokens": 5, "system": "s",
               "messages": [{"role": "user", "content": "hi"}]}


def event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


EVENTS = [
    event("message_start", {"type": "message_start", "message": {
        **MESSAGE, "content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}}),
    event("content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}),
    b'event: ping\ndata: {"type":"ping"}\n\n',
    event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": "hi"}}),
    event("content_block_stop", {"type": "content_block_stop", "index": 0}),
    event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                            "usage": {"output_tokens": 2}}),
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]

Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, content: bytes, headers: dict[str, str] | None = None
           ) -> httpx.Response:
    """A response whose body is read as a stream, as from a real server."""
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content))


def provider(handler: Handler, limit: int = 1 << 20) -> AnthropicHttpProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AnthropicHttpProvider(TimeoutSettings(), client,
                                 LimitsSettings(max_response_bytes=limit))


def target(native: NativeBody | None = None) -> CallTarget:
    return CallTarget(name="claude", spec=SPEC, endpoint="http://upstream.test",
                      api_key=SecretStr("sk-ant"), timeout_s=5.0, native=native)


def complete(handler: Handler, body: dict[str, Any], native: NativeBody | None = None,
             limit: int = 1 << 20) -> Any:
    async def run() -> Any:
        p = provider(handler, limit)
        try:
            return await p.complete(target(native), body)
        finally:
            await p.aclose()
    return asyncio.run(run())


def stream(handler: Handler, body: dict[str, Any], native: NativeBody | None = None,
           want_usage: bool = True) -> tuple[bytes, MessagesStream]:
    async def run() -> tuple[bytes, MessagesStream]:
        p = provider(handler)
        try:
            s = await p.open_stream(target(native), body, want_usage)
            out = b"".join([chunk async for chunk in s.events()])
            await s.aclose()
            return out, s
        finally:
            await p.aclose()
    return asyncio.run(run())


def test_passthrough_body_and_answer_are_untouched() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, orjson.dumps(MESSAGE))

    native = NativeBody("anthropic", NATIVE_BODY, {"anthropic-beta": "b1"})
    done = complete(handler, NATIVE_BODY, native)
    assert orjson.loads(done.body) == MESSAGE
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (5, 2)
    [request] = seen
    assert str(request.url) == "http://upstream.test/v1/messages"
    assert orjson.loads(request.content) == NATIVE_BODY
    assert request.headers["x-api-key"] == "sk-ant"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["anthropic-beta"] == "b1"


def test_chat_body_is_translated_both_ways() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        return answer(200, orjson.dumps(MESSAGE))

    done = complete(handler, {"model": "claude-x", "messages": [
        {"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]})
    assert seen[0]["system"] == "s" and seen[0]["max_tokens"] == 4096
    completion = orjson.loads(done.body)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(("content", "outcome"), [
    (b"<html>", "invalid_response"),
    (b"[1, 2]", "invalid_response"),
    (b'{"type": "completion", "content": []}', "invalid_response"),
    (b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}',
     "error_body"),
])
def test_a_200_that_is_not_a_message_fails_the_attempt(content: bytes, outcome: str) -> None:
    with pytest.raises(AttemptFailed) as info:
        complete(lambda r: answer(200, content), NATIVE_BODY)
    assert info.value.outcome == outcome and info.value.retryable


def test_an_oversized_answer_fails_the_attempt() -> None:
    with pytest.raises(AttemptFailed) as info:
        complete(lambda r: answer(200, b"x" * 5000), NATIVE_BODY, limit=2048)
    assert info.value.outcome == "response_too_large"


def test_status_errors_carry_the_upstream_answer() -> None:
    body = b'{"type": "error", "error": {"type": "invalid_request_error", "message": "m"}}'
    with pytest.raises(AttemptFailed) as info:
        complete(lambda r: answer(400, body), NATIVE_BODY)
    assert not info.value.retryable and info.value.status == 400 and info.value.body == body
    with pytest.raises(AttemptFailed) as info:
        complete(lambda r: answer(429, b"{}", headers={"retry-after": "7"}),
                 NATIVE_BODY)
    assert info.value.retryable and info.value.retry_after_s == 7.0


def test_passthrough_stream_is_forwarded_as_it_came() -> None:
    native = NativeBody("anthropic", NATIVE_BODY)
    out, s = stream(lambda r: answer(200, b"".join(EVENTS)), NATIVE_BODY,
                    native)
    assert out == b"".join(EVENTS)
    assert s.end.completed and s.end.error is None
    assert (s.end.usage.prompt_tokens, s.end.usage.completion_tokens) == (5, 2)


def test_chat_stream_is_translated_to_chunks() -> None:
    out, _ = stream(lambda r: answer(200, b"".join(EVENTS)),
                    {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]})
    chunks = [orjson.loads(line[6:]) for line in out.split(b"\n\n")
              if line.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"]) == "hi"
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2,
                                   "total_tokens": 7}
    assert out.endswith(b"data: [DONE]\n\n")


def test_a_stream_whose_first_event_is_an_error_fails_the_attempt() -> None:
    error = event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                      "message": "busy"}})
    with pytest.raises(AttemptFailed) as info:
        stream(lambda r: answer(200, error), NATIVE_BODY,
               NativeBody("anthropic", NATIVE_BODY))
    assert info.value.outcome == "error_event" and info.value.retryable


def test_a_stream_cut_short_ends_with_an_error_event() -> None:
    native = NativeBody("anthropic", NATIVE_BODY)
    out, s = stream(lambda r: answer(200, b"".join(EVENTS[:4])), NATIVE_BODY,
                    native)
    assert s.end.error == "upstream closed the stream before it finished"
    assert out.endswith(b"\n\n") and b"event: error" in out.split(b"\n\n")[-2]
    out, s = stream(lambda r: answer(200, b"".join(EVENTS[:4])),
                    {"model": "claude-x", "messages": []})
    assert out.split(b"\n\n")[-2].startswith(b'data: {"error"')
