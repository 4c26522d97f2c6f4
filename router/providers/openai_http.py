"""OpenAI-compatible upstreams (vLLM, any `/v1/chat/completions` server) over one httpx client.

Bodies are forwarded as they came, and responses as they come back: Junction reads usage out of
them but re-encodes nothing, which keeps the added latency near the cost of the HTTP hops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from router.providers.base import (
    AttemptFailed,
    CallTarget,
    Completion,
    StreamEnd,
    Usage,
    retryable_status,
)
from router.providers.sse import EventSplitter, error_event, event_data
from router.providers.transport import PooledTransport
from router.settings import TimeoutSettings


def chat_url(endpoint: str) -> str:
    base = endpoint.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


class OpenAIHttpProvider:
    """Calls OpenAI-compatible servers through one shared `httpx.AsyncClient`."""

    def __init__(self, timeouts: TimeoutSettings, client: httpx.AsyncClient | None = None) -> None:
        self.timeouts = timeouts
        self.client = client or httpx.AsyncClient(
            transport=PooledTransport(),
            timeout=httpx.Timeout(timeouts.first_byte_s, connect=timeouts.connect_s),
            headers={"accept-encoding": "identity"},
        )
        # Parsed once per endpoint: httpx's URL parsing is a measurable share of a request.
        self._urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def _request(self, target: CallTarget, body: dict[str, Any], read_s: float) -> httpx.Request:
        assert target.endpoint is not None
        url = self._urls.get(target.endpoint)
        if url is None:
            url = self._urls[target.endpoint] = httpx.URL(chat_url(target.endpoint))
        headers = {"content-type": "application/json"}
        if target.api_key is not None:
            headers["authorization"] = "Bearer " + target.api_key.get_secret_value()
        timeout = httpx.Timeout(read_s, connect=self.timeouts.connect_s)
        return self.client.build_request(
            "POST", url, content=orjson.dumps(body), headers=headers, timeout=timeout
        )

    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion:
        start = time.perf_counter()
        request = self._request(target, body, target.timeout_s)
        try:
            response = await self.client.send(request)
        except httpx.TimeoutException as exc:
            raise AttemptFailed("timeout", f"no answer within {target.timeout_s:g}s",
                                retryable=True) from exc
        except httpx.TransportError as exc:
            raise AttemptFailed("connect_error", _transport_message(exc), retryable=True) from exc
        elapsed = (time.perf_counter() - start) * 1000.0
        content = response.content
        if response.status_code >= 400:
            raise AttemptFailed(
                str(response.status_code),
                f"upstream answered {response.status_code}",
                retryable=retryable_status(response.status_code),
                status=response.status_code,
                body=content,
            )
        return Completion(body=content, usage=_usage_of(content), upstream_ms=elapsed)

    async def open_stream(
        self, target: CallTarget, body: dict[str, Any], want_usage: bool
    ) -> HttpStream:
        start = time.perf_counter()
        request = self._request(target, body, self.timeouts.stream_idle_s)
        try:
            response = await asyncio.wait_for(
                self.client.send(request, stream=True), timeout=self.timeouts.first_byte_s
            )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise AttemptFailed("timeout", "no first byte within "
                                f"{self.timeouts.first_byte_s:g}s", retryable=True) from exc
        except httpx.TransportError as exc:
            raise AttemptFailed("connect_error", _transport_message(exc), retryable=True) from exc
        if response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            raise AttemptFailed(
                str(response.status_code),
                f"upstream answered {response.status_code}",
                retryable=retryable_status(response.status_code),
                status=response.status_code,
                body=content,
            )
        stream = HttpStream(response, want_usage, self.timeouts.first_byte_s)
        try:
            await stream.read_first()
        except BaseException:
            await stream.aclose()
            raise
        stream.first_byte_ms = (time.perf_counter() - start) * 1000.0
        return stream


class HttpStream:
    """An upstream SSE stream, forwarded event by event as the bytes arrive."""

    def __init__(self, response: httpx.Response, want_usage: bool, first_byte_s: float) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self._splitter = EventSplitter()
        self._want_usage = want_usage
        self._first_byte_s = first_byte_s
        self._pending: list[bytes] = []
        self.first_byte_ms = 0.0
        self.end = StreamEnd()

    async def read_first(self) -> None:
        """Wait for the first whole event; failing here still lets the executor fall back."""
        try:
            async with asyncio.timeout(self._first_byte_s):
                while not self._pending:
                    chunk = await anext(self._chunks)
                    self._pending = self._filter(self._splitter.feed(chunk))
        except StopAsyncIteration as exc:
            raise AttemptFailed("empty_stream", "upstream closed the stream before any event",
                                retryable=True) from exc
        except TimeoutError as exc:
            raise AttemptFailed("timeout", "no first event within "
                                f"{self._first_byte_s:g}s", retryable=True) from exc
        except httpx.TransportError as exc:
            raise AttemptFailed("stream_error", _transport_message(exc), retryable=True) from exc

    async def events(self) -> AsyncIterator[bytes]:
        pending, self._pending = self._pending, []
        if pending:
            yield b"".join(pending)
        try:
            async for chunk in self._chunks:
                out = self._filter(self._splitter.feed(chunk))
                if out:
                    yield b"".join(out)
        except httpx.TimeoutException:
            self.end.error = "upstream stream stalled"
        except httpx.TransportError as exc:
            self.end.error = f"upstream stream broke: {_transport_message(exc)}"
        if not self.end.completed:
            # A stream that ends without [DONE] broke: say so rather than end silently.
            self.end.error = self.end.error or "upstream closed the stream before it finished"
            yield error_event(self.end.error)

    def _filter(self, events: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            data = event_data(event)
            if data is None:
                out.append(event)
                continue
            if data == b"[DONE]":
                self.end.completed = True
                out.append(event)
                continue
            self.end.chunks += 1
            if b'"usage"' in data:
                drop = self._read_usage(data)
                if drop:
                    continue
            if b'"error"' in data and data.startswith(b'{"error"'):
                self.end.error = "upstream sent an error event"
            out.append(event)
        return out

    def _read_usage(self, data: bytes) -> bool:
        """Record usage; True when the event exists only for Junction and must not be sent."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        usage = obj.get("usage") if isinstance(obj, dict) else None
        if isinstance(usage, dict):
            self.end.usage.update_from(usage)
            return not self._want_usage and not obj.get("choices")
        return False

    async def aclose(self) -> None:
        await self._response.aclose()


def _usage_of(content: bytes) -> Usage:
    usage = Usage()
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        return usage
    if isinstance(obj, dict) and isinstance(obj.get("usage"), dict):
        usage.update_from(obj["usage"])
    return usage


def _transport_message(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
