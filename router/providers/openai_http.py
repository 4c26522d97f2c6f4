"""OpenAI-compatible upstreams (vLLM, any `/v1/chat/completions` server) over one httpx client.

Bodies are forwarded as they came, and responses as they come back: Junction reads usage out of
them but re-encodes nothing, which keeps the added latency near the cost of the HTTP hops.
Every answer is untrusted: bodies are read incrementally up to a size limit, a 200 that is not a
chat completion fails the attempt, and each attempt runs against one deadline.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

import httpx
import orjson

from router.providers.base import (
    AttemptFailed,
    CallTarget,
    Completion,
    StreamEnd,
    Usage,
    add_trace_context,
    retry_after_seconds,
    retryable_status,
)
from router.providers.embedding_shape import Embedded, EmbeddingAsk, checked_embeddings
from router.providers.sse import EventSplitter, EventTooLarge, error_event, event_data
from router.providers.transport import PooledTransport
from router.redact import redact
from router.settings import LimitsSettings, TimeoutSettings

_DETAIL_CHARS = 200  # how much of an upstream's own error message is quoted back
_FINISH_REASON = re.compile(rb'"finish_reason"\s*:\s*"([A-Za-z_\-]{1,32})"')


def chat_url(endpoint: str, path: str = "/chat/completions") -> str:
    """The chat completions (or another `path`'s) URL of an endpoint (a query string, e.g. a
    key, is kept)."""
    base, mark, query = endpoint.partition("?")
    base = base.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + path + mark + query


class OpenAIHttpProvider:
    """Calls OpenAI-compatible servers through one shared `httpx.AsyncClient`."""

    def __init__(
        self,
        timeouts: TimeoutSettings,
        client: httpx.AsyncClient | None = None,
        limits: LimitsSettings | None = None,
    ) -> None:
        self.timeouts = timeouts
        self.limits = limits or LimitsSettings()
        self.client = client or httpx.AsyncClient(
            transport=PooledTransport(keep_alive_expiry_s=timeouts.keep_alive_expiry_s),
            timeout=httpx.Timeout(timeouts.first_byte_s, connect=timeouts.connect_s),
            headers={"accept-encoding": "identity"},
        )
        # Parsed once per endpoint: httpx's URL parsing is a measurable share of a request.
        self._urls: dict[str, tuple[httpx.URL, str | None]] = {}
        self._embedding_urls: dict[str, tuple[httpx.URL, str | None]] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def _request(self, target: CallTarget, body: dict[str, Any], read_s: float,
                 embeddings: bool = False) -> httpx.Request:
        assert target.endpoint is not None
        urls = self._embedding_urls if embeddings else self._urls
        parsed = urls.get(target.endpoint)
        if parsed is None:
            path = "/embeddings" if embeddings else "/chat/completions"
            parsed = urls[target.endpoint] = _split_credentials(chat_url(target.endpoint, path))
        url, basic = parsed
        headers = {"content-type": "application/json"}
        if target.api_key is not None:
            headers["authorization"] = "Bearer " + target.api_key.get_secret_value()
        elif basic is not None:
            headers["authorization"] = basic
        add_trace_context(headers)
        timeout = httpx.Timeout(read_s, connect=self.timeouts.connect_s)
        return self.client.build_request(
            "POST", url, content=orjson.dumps(body), headers=headers, timeout=timeout
        )

    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion:
        content, elapsed = await self._post(target, self._request(target, body, target.timeout_s))
        return Completion(body=content, usage=_completion_usage(content), upstream_ms=elapsed)

    async def embed(self, target: CallTarget, body: dict[str, Any],
                    ask: EmbeddingAsk) -> Embedded:
        """`POST /v1/embeddings`; the answer is checked against `ask` (see `embedding_shape`)."""
        request = self._request(target, body, target.timeout_s, embeddings=True)
        content, elapsed = await self._post(target, request)
        try:
            obj = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise AttemptFailed("invalid_response", "upstream answered 200 with a body that is "
                                f"not valid JSON ({len(content)} bytes)", retryable=True) from exc
        if isinstance(obj, dict) and obj.get("error") is not None:
            raise AttemptFailed("error_body", "upstream answered 200 with an error: "
                                + _error_detail(content, obj), retryable=True)
        return checked_embeddings(obj, ask, target.spec.model, elapsed, raw=content)

    async def _post(self, target: CallTarget, request: httpx.Request) -> tuple[bytes, float]:
        return await post_bounded(self.client, target, request, self.limits.max_response_bytes)

    async def open_stream(
        self, target: CallTarget, body: dict[str, Any], want_usage: bool
    ) -> HttpStream:
        request = self._request(target, body, self.timeouts.stream_idle_s)
        limit = self.limits.max_response_bytes
        return await open_first(
            self.client, request, target, self.timeouts.first_byte_s, limit,
            lambda response: HttpStream(response, want_usage, target, limit))


class FirstEventStream(Protocol):
    """What `open_first` needs of a provider's stream."""

    first_byte_ms: float

    async def read_first(self) -> None: ...

    async def aclose(self) -> None: ...


S = TypeVar("S", bound=FirstEventStream)


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The whole body, refused as soon as it is known to pass the size limit."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_raw():
        size += len(part)
        if size > limit:
            raise _too_large(size, limit)
        parts.append(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def post_bounded(client: httpx.AsyncClient, target: CallTarget, request: httpx.Request,
                       limit: int) -> tuple[bytes, float]:
    """Send `request`; the whole body of a 2xx answer (bounded) and the time it took."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout_at(target.deadline):
            response = await client.send(request, stream=True)
            try:
                content = await read_bounded(response, limit)
            finally:
                await response.aclose()
    except TimeoutError as exc:
        raise _deadline_failed(target, "no whole answer") from exc
    except httpx.TimeoutException as exc:
        raise AttemptFailed("timeout", f"no answer within {target.timeout_s:g}s",
                            retryable=True) from exc
    except httpx.TransportError as exc:
        raise AttemptFailed("connect_error", _transport_message(exc), retryable=True) from exc
    elapsed = (time.perf_counter() - start) * 1000.0
    if response.status_code >= 400:
        raise _status_failed(response, content)
    return content, elapsed


async def open_first(client: httpx.AsyncClient, request: httpx.Request, target: CallTarget,
                     first_byte_s: float, limit: int,
                     make: Callable[[httpx.Response], S]) -> S:
    """Send a streaming `request` and read its first event: the stream `make` builds from the
    response, with `first_byte_ms` set. One first-byte limit, measured from sending:
    connecting, the headers and the first event all count against it (and against the
    attempt's own deadline). An error status is read (bounded) and fails the attempt."""
    start = time.perf_counter()
    loop = asyncio.get_running_loop()
    first_byte_at = loop.time() + first_byte_s
    first_deadline = (first_byte_at if target.deadline is None
                      else min(first_byte_at, target.deadline))
    stream: S | None = None
    try:
        async with asyncio.timeout_at(first_deadline):
            response = await client.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    content = await read_bounded(response, limit)
                finally:
                    await response.aclose()
                raise _status_failed(response, content)
            stream = make(response)
            await stream.read_first()
    except BaseException as exc:
        if stream is not None:
            await stream.aclose()
        if isinstance(exc, TimeoutError) and first_deadline < first_byte_at:
            raise _deadline_failed(target, "no first event") from exc
        if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
            raise AttemptFailed("timeout", f"no first event within {first_byte_s:g}s",
                                retryable=True) from exc
        if isinstance(exc, httpx.TransportError):
            outcome = "stream_error" if stream is not None else "connect_error"
            raise AttemptFailed(outcome, _transport_message(exc), retryable=True) from exc
        raise
    stream.first_byte_ms = (time.perf_counter() - start) * 1000.0
    return stream


class HttpStream:
    """An upstream SSE stream, forwarded event by event as the bytes arrive."""

    def __init__(
        self, response: httpx.Response, want_usage: bool, target: CallTarget, max_event_bytes: int
    ) -> None:
        self._response = response
        self._chunks = response.aiter_raw()
        self._splitter = EventSplitter(max_event_bytes)
        self._want_usage = want_usage
        self._target = target
        self._pending: list[bytes] = []
        self.first_byte_ms = 0.0
        self.end = StreamEnd()

    async def read_first(self) -> None:
        """Wait for the first whole event; failing here still lets the executor fall back.

        The caller bounds the wait. An upstream whose first event is an error failed the
        attempt (nothing reached the caller yet, so another model may answer).
        """
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
        deadline = self._target.deadline
        try:
            while True:
                async with asyncio.timeout_at(deadline):
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
            if b'"finish_reason":null' not in data and b"finish_reason" in data:
                reason = _FINISH_REASON.search(data)
                if reason is not None:
                    self.end.note_finish(reason.group(1).decode())
            if b'"usage"' in data:
                drop = self._read_usage(data)
                if drop:
                    continue
            if data.startswith(b'{"error"'):
                self.end.error = "upstream sent an error event: " + _error_detail(data)
            out.append(event)
        return out

    def _read_usage(self, data: bytes) -> bool:
        """Record usage; True when the event exists only for Junction and must not be sent."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict) or "usage" not in obj:
            return False
        self.end.usage.update_from(obj["usage"])  # an invalid usage is ignored and estimated
        self.end.note_response(obj)
        return not self._want_usage and not obj.get("choices")

    async def aclose(self) -> None:
        await self._response.aclose()


def _split_credentials(raw: str) -> tuple[httpx.URL, str | None]:
    """The URL without its userinfo, and that userinfo as a Basic authorization header: the
    credentials still go upstream, but never in a URL that httpx or an error could print."""
    url = httpx.URL(raw)
    if not url.userinfo:
        return url, None
    token = base64.b64encode(f"{url.username}:{url.password}".encode()).decode("ascii")
    return url.copy_with(username=None, password=None), "Basic " + token


def _completion_usage(content: bytes) -> Usage:
    """The usage of a 200 answer, which must be a chat completion; anything else fails."""
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise AttemptFailed("invalid_response", "upstream answered 200 with a body that is not "
                            f"valid JSON ({len(content)} bytes)", retryable=True) from exc
    if not isinstance(obj, dict):
        raise AttemptFailed("invalid_response", "upstream answered 200 with JSON that is not an "
                            "object", retryable=True)
    if "error" in obj and obj["error"] is not None:
        raise AttemptFailed("error_body", "upstream answered 200 with an error: "
                            + _error_detail(content, obj), retryable=True)
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise AttemptFailed("invalid_response", "upstream answered 200 with something that is "
                            "not a chat completion (no choices)", retryable=True)
    usage = Usage()
    if "usage" in obj:
        usage.update_from(obj["usage"])
    return usage


def _error_detail(data: bytes, obj: Any = None) -> str:
    """The upstream's own error message, bounded (it is untrusted text)."""
    if obj is None:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return "(unreadable)"
    error = obj.get("error") if isinstance(obj, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    text = message if isinstance(message, str) else orjson.dumps(message).decode()
    return redact(text[:_DETAIL_CHARS])


def _status_failed(response: httpx.Response, content: bytes) -> AttemptFailed:
    status = response.status_code
    retry_after = None
    if status in (429, 503):
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
    return AttemptFailed(
        str(status),
        f"upstream answered {status}",
        retryable=retryable_status(status),
        status=status,
        body=content,
        retry_after_s=retry_after,
    )


def _deadline_failed(target: CallTarget, what: str) -> AttemptFailed:
    return AttemptFailed("deadline", f"{what} within the attempt deadline of "
                         f"{target.total_s:g}s", retryable=True)


def _too_large(size: int, limit: int) -> AttemptFailed:
    return AttemptFailed(
        "response_too_large",
        f"upstream answer is {size} bytes or more; the limit is {limit} "
        "(setting JUNCTION_LIMITS__MAX_RESPONSE_BYTES)",
        retryable=True,
    )


def stream_break(exc: BaseException, target: CallTarget, earlier: str | None) -> str:
    """Why a stream that had started ended early, for its closing error event. A deadline or
    an oversized event says so; a stall or a broken connection keeps an error already seen."""
    if isinstance(exc, TimeoutError):
        return f"the upstream did not finish within the attempt deadline of {target.total_s:g}s"
    if isinstance(exc, EventTooLarge):
        return _event_too_large(exc.limit)
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException):
        return earlier or f"upstream stream broke: {_transport_message(exc)}"
    return earlier or "upstream stream stalled"


def _event_too_large(limit: int) -> str:
    return (f"an upstream event passed {limit} bytes without ending; the limit is {limit} "
            "(setting JUNCTION_LIMITS__MAX_RESPONSE_BYTES)")


def _transport_message(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")
