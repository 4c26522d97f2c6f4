"""The little ASGI plumbing the emulators need.

Plain ASGI rather than starlette: an emulator is the "instant upstream" the gateway's added
latency is measured against, so a request must cost microseconds, not a framework's stack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Handler = Callable[["Request"], Awaitable[None]]

JSON = b"application/json"
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


class ConnectionCut(Exception):
    """Raised mid-stream so the server drops the connection, as a crashing upstream would.

    ASGI servers close the transport when an app raises after the response has started, so
    the client sees a truncated body rather than a clean end of stream.
    """


class ClientGone(Exception):
    """The client disconnected; the handler stops without answering."""


class ServerClosing(Exception):
    """The emulator is shutting down; a waiting request is answered 503 (or cut, if streaming)."""


class Request:
    """One HTTP exchange: the request as read, and the means to answer it."""

    __slots__ = (
        "_abandoned",
        "_closing",
        "_receive",
        "_send",
        "_watcher",
        "body",
        "headers",
        "method",
        "path",
        "started",
    )

    def __init__(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        closing: asyncio.Future[None] | None = None,
    ) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        # Servers lower-case header names already; the last of a repeated header wins.
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.body = body
        self.started = False
        self._receive = receive
        self._send = send
        self._closing = closing
        self._abandoned: asyncio.Future[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    @classmethod
    async def read(
        cls,
        scope: Scope,
        receive: Receive,
        send: Send,
        closing: asyncio.Future[None] | None = None,
    ) -> Request:
        """Read the whole body; the emulators' bodies are small JSON documents."""
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return cls(scope, body, receive, send, closing)

    async def respond(self, status: int, body: bytes, content_type: bytes | None = JSON) -> None:
        """Send a complete response."""
        self.started = True
        headers = [(b"content-length", str(len(body)).encode())]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    async def respond_json(self, status: int, payload: object) -> None:
        """Send `payload` as a JSON response."""
        await self.respond(status, orjson.dumps(payload))

    async def start_stream(self, headers: Headers) -> None:
        """Send the status line and headers of a streamed 200 response."""
        self.started = True
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    async def write(self, body: bytes, *, more: bool = True) -> None:
        """Send part of a streamed body (the last part with more=False)."""
        await self._send({"type": "http.response.body", "body": body, "more_body": more})

    def abandoned(self) -> asyncio.Future[None]:
        """Completes when the client disconnects or the server closes (watched from first use).

        Only waits need it, so an instant request never pays for the watcher task.
        """
        if self._abandoned is None:
            loop = asyncio.get_running_loop()
            abandoned: asyncio.Future[None] = loop.create_future()
            self._abandoned = abandoned
            self._watcher = loop.create_task(self._watch(abandoned))
            if self._closing is not None:
                self._closing.add_done_callback(self._on_closing)
        return self._abandoned

    def stop(self) -> NoReturn:
        """Raise why the request was abandoned: ServerClosing or ClientGone."""
        if self._closing is not None and self._closing.done():
            raise ServerClosing
        raise ClientGone

    async def sleep(self, seconds: float) -> None:
        """Sleep, but stop as soon as the client disconnects or the server closes."""
        abandoned = self.abandoned()
        if not abandoned.done():
            await asyncio.wait((abandoned,), timeout=seconds)
        if abandoned.done():
            self.stop()

    async def wait_until_abandoned(self) -> NoReturn:
        """Never answer: wait until the client gives up (or the server closes)."""
        await self.abandoned()
        self.stop()

    def close(self) -> None:
        """Stop watching for a disconnect or for the server closing."""
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
        if self._abandoned is not None and self._closing is not None:
            # Long-lived servers would otherwise collect one callback per request.
            self._closing.remove_done_callback(self._on_closing)

    def _on_closing(self, _: asyncio.Future[None]) -> None:
        if self._abandoned is not None:
            settle(self._abandoned)

    async def _watch(self, abandoned: asyncio.Future[None]) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        settle(abandoned)


def settle(future: asyncio.Future[None]) -> None:
    """Complete `future` unless it already is."""
    if not future.done():
        future.set_result(None)


class EventStream:
    """Server-sent events, batched between pauses, that can be cut off after N events."""

    __slots__ = ("_buffer", "_count", "_cut_after", "_request")

    def __init__(self, request: Request, cut_after: int | None) -> None:
        self._request = request
        self._buffer: list[bytes] = []
        self._count = 0
        self._cut_after = cut_after

    async def open(self, headers: Headers = SSE_HEADERS) -> None:
        """Send the response headers."""
        await self._request.start_stream(headers)
        if self._cut_after == 0:
            raise ConnectionCut

    def add(self, event: bytes) -> None:
        """Queue one complete SSE event; it goes out on the next flush."""
        if self._cut_after is not None and self._count >= self._cut_after:
            return
        self._buffer.append(event)
        self._count += 1

    async def flush(self) -> None:
        """Send what is queued; drop the connection if the cut-off has been reached."""
        if self._buffer:
            body = b"".join(self._buffer)
            self._buffer.clear()
            await self._request.write(body)
        if self._cut_after is not None and self._count >= self._cut_after:
            raise ConnectionCut

    async def close(self) -> None:
        """Send what is queued and end the stream cleanly (unless it is to be cut)."""
        await self.flush()
        await self._request.write(b"", more=False)


class _HideConnectionCuts(logging.Filter):
    """Drops the server's traceback for a deliberate ConnectionCut; real errors still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info is not None and isinstance(record.exc_info[1], ConnectionCut))


def hide_connection_cut_tracebacks() -> None:
    """Keep uvicorn from logging a traceback for every deliberate mid-stream cut (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideConnectionCuts) for f in logger.filters):
        logger.addFilter(_HideConnectionCuts())
