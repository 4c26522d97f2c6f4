"""Anthropic's Messages API over HTTP (`backend: anthropic`): passthrough and chat alike.

A door's own Messages body (`CallTarget.native`) is POSTed to `{endpoint}/v1/messages` as it
is, and the answer (a `message`, or its event stream) comes back as it came: nothing is
translated twice, so thinking signatures, cache_control and server tools survive. A
chat-completions body is translated to Messages on the way out and its answer back to chat
(`router.doors.anthropic_upstream`). Bounded and deadline-bound the same way as
`OpenAIHttpProvider`: bodies and events are read up to the size limit, a 200 that is not a
message fails the attempt, and a stream's first event must arrive before the first-byte limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from router.doors.anthropic_upstream import MessagesToChatStream, chat_to_messages, chat_usage
from router.doors.anthropic_upstream import message_to_chat as chat_completion
from router.providers.base import AttemptFailed, CallTarget, Completion, StreamEnd, Usage
from router.providers.openai_http import (
    _event_too_large,
    open_first,
    post_bounded,
    stream_break,
)
from router.providers.sse import DONE, EventSplitter, EventTooLarge, error_event, event_data
from router.providers.transport import PooledTransport
from router.redact import redact
from router.settings import LimitsSettings, TimeoutSettings

DEFAULT_ENDPOINT = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
_FORWARDED = ("anthropic-version", "anthropic-beta")
_DETAIL_CHARS = 200


def messages_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/messages"


class AnthropicHttpProvider:
    """Calls Anthropic's Messages API through one shared `httpx.AsyncClient`."""

    def __init__(self, timeouts: TimeoutSettings, client: httpx.AsyncClient | None = None,
                 limits: LimitsSettings | None = None) -> None:
        self.timeouts = timeouts
        self.limits = limits or LimitsSettings()
        self.client = client or httpx.AsyncClient(
            transport=PooledTransport(keep_alive_expiry_s=timeouts.keep_alive_expiry_s),
            timeout=httpx.Timeout(timeouts.first_byte_s, connect=timeouts.connect_s),
            headers={"accept-encoding": "identity"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _request(self, target: CallTarget, body: dict[str, Any], read_s: float) -> httpx.Request:
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if target.native is not None:
            for name in _FORWARDED:
                if name in target.native.headers:
                    headers[name] = target.native.headers[name]
        else:
            body = chat_to_messages(body)
        if target.api_key is not None:
            headers["x-api-key"] = target.api_key.get_secret_value()
        url = messages_url(target.endpoint or DEFAULT_ENDPOINT)
        return self.client.build_request(
            "POST", url, content=orjson.dumps(body), headers=headers,
            timeout=httpx.Timeout(read_s, connect=self.timeouts.connect_s))

    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion:
        request = self._request(target, body, target.timeout_s)
        content, elapsed = await post_bounded(self.client, target, request,
                                              self.limits.max_response_bytes)
        message = _message(content)
        usage = Usage()
        usage.update_from(chat_usage(message.get("usage")))
        if target.native is None:
            content = orjson.dumps(chat_completion(message))
        return Completion(body=content, usage=usage, upstream_ms=elapsed)

    async def open_stream(self, target: CallTarget, body: dict[str, Any],
                          want_usage: bool) -> MessagesStream:
        request = self._request(target, body, self.timeouts.stream_idle_s)
        limit = self.limits.max_response_bytes
        return await open_first(
            self.client, request, target, self.timeouts.first_byte_s, limit,
            lambda response: MessagesStream(response, target, want_usage, limit))


class MessagesStream:
    """An upstream Messages event stream: forwarded as it came (passthrough) or as chat
    chunks; usage is read from message_start and message_delta either way."""

    def __init__(self, response: httpx.Response, target: CallTarget, want_usage: bool,
                 max_event_bytes: int) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self._splitter = EventSplitter(max_event_bytes)
        self._target = target
        self._want_usage = want_usage
        self._chat = None if target.native is not None else MessagesToChatStream()
        self._usage: dict[str, int] = {}
        self._pending: list[bytes] = []
        self.first_byte_ms = 0.0
        self.end = StreamEnd()

    async def read_first(self) -> None:
        """Wait for the first event; an error first means the attempt failed (fall back)."""
        try:
            while not self._pending:
                chunk = await anext(self._chunks)
                self._pending = self._filter(self._splitter.feed(chunk))
                if self.end.error is not None:
                    raise AttemptFailed("error_event", self.end.error, retryable=True)
        except StopAsyncIteration as exc:
            raise AttemptFailed("empty_stream", "upstream closed the stream before any event",
                                retryable=True) from exc
        except EventTooLarge as exc:
            raise AttemptFailed("response_too_large", _event_too_large(exc.limit),
                                retryable=True) from exc

    async def events(self) -> AsyncIterator[bytes]:
        pending, self._pending = self._pending, []
        if pending:
            yield b"".join(pending)
        try:
            while not self.end.completed and self.end.error is None:
                async with asyncio.timeout_at(self._target.deadline):
                    chunk = await anext(self._chunks, None)
                if chunk is None:
                    break
                out = self._filter(self._splitter.feed(chunk))
                if out:
                    yield b"".join(out)
        except (TimeoutError, EventTooLarge, httpx.TimeoutException,
                httpx.TransportError) as exc:
            self.end.error = stream_break(exc, self._target, self.end.error)
        if not self.end.completed:
            self.end.error = self.end.error or "upstream closed the stream before it finished"
            yield self._error(self.end.error)

    def _error(self, message: str) -> bytes:
        if self._chat is not None:
            return error_event(message)
        payload = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _filter(self, events: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for raw in events:
            data = event_data(raw)
            obj = _loads(data) if data is not None else None
            if obj is None:
                if self._chat is None:
                    out.append(raw)
                continue
            kind = obj.get("type")
            self.end.chunks += 1
            if kind in ("message_start", "message_delta"):
                holder = obj.get("message") if kind == "message_start" else obj
                usage = holder.get("usage") if isinstance(holder, dict) else None
                if isinstance(usage, dict):
                    self._usage.update({k: v for k, v in usage.items()
                                        if isinstance(v, int) and not isinstance(v, bool)})
                    self.end.usage.update_from(chat_usage(self._usage))
            elif kind == "error":
                error = obj.get("error")
                message = error.get("message") if isinstance(error, dict) else error
                self.end.error = ("upstream sent an error event: "
                                  + redact(str(message)[:_DETAIL_CHARS]))
                out.append(raw if self._chat is None else error_event(self.end.error))
                continue
            elif kind == "message_stop":
                self.end.completed = True
            if self._chat is None:
                out.append(raw)
                continue
            translated = self._chat.feed(obj)
            if translated is not None:
                out.append(translated)
            if kind == "message_stop":
                if self._want_usage:
                    out.append(self._chat.usage_chunk())
                out.append(DONE)
        return out

    async def aclose(self) -> None:
        await self._response.aclose()


def _loads(data: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _message(content: bytes) -> dict[str, Any]:
    """A 200 answer, which must be a Messages `message`; anything else fails the attempt."""
    obj = _loads(content)
    if obj is None:
        raise AttemptFailed("invalid_response", "upstream answered 200 with a body that is not "
                            f"a JSON object ({len(content)} bytes)", retryable=True)
    if obj.get("type") == "error":
        error = obj.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        raise AttemptFailed("error_body", "upstream answered 200 with an error: "
                            + redact(str(message)[:_DETAIL_CHARS]), retryable=True)
    if obj.get("type") != "message" or not isinstance(obj.get("content"), list):
        raise AttemptFailed("invalid_response", "upstream answered 200 with something that is "
                            "not a message (no type 'message' with content)", retryable=True)
    return obj
