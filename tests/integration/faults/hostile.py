"""A hostile OpenAI-compatible upstream: a real HTTP/1.1 server on 127.0.0.1 that misbehaves.

Each request is answered by the next scripted `Act` (then by a well-behaved completion). Acts
write raw bytes, so they can do what no polite server does: hang, drip a byte at a time, cut
the connection mid-stream, flood a huge body or event, lie in `usage`, answer 200 with an error
body, or send Retry-After. Waits are on events the test controls, never on guessed sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

Writer = asyncio.StreamWriter


@dataclass(frozen=True)
class Seen:
    """One request as it reached the upstream."""

    head: bytes
    body: dict[str, Any]

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None


Act = Callable[["Hostile", Writer, Seen], Awaitable[None]]


class Hostile:
    """The server; `play(*acts)` scripts the next answers, `release()` frees hung ones."""

    def __init__(self) -> None:
        self.url = ""
        self.seen: list[Seen] = []
        self._acts: list[Act] = []
        self._loop = asyncio.new_event_loop()
        self._release = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        # Set (thread-safe) when an act has written what it writes before waiting.
        self.stalled = threading.Event()
        self.flooded = 0  # body bytes a flood wrote before its reader hung up

    # -- control from the test thread -----------------------------------------------------

    def play(self, *acts: Act) -> None:
        with self._lock:
            self._acts = list(acts)
            self.seen.clear()
        self.stalled.clear()
        self._loop.call_soon_threadsafe(self._release.clear)

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._release.set)

    async def released(self) -> None:
        await self._release.wait()

    # -- the server ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                raw = await reader.readexactly(length)
                seen = Seen(head, orjson.loads(raw) if raw else {})
                with self._lock:
                    self.seen.append(seen)
                    act = self._acts.pop(0) if self._acts else completion()
                await act(self, writer, seen)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


@contextmanager
def hostile_upstream() -> Iterator[Hostile]:
    host = Hostile()
    thread = threading.Thread(target=host._loop.run_forever, name="hostile", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(host._start(), host._loop).result(10)
    try:
        yield host
    finally:
        asyncio.run_coroutine_threadsafe(host._stop(), host._loop).result(10)
        host._loop.call_soon_threadsafe(host._loop.stop)
        thread.join(10)
        host._loop.close()


# -- acts --------------------------------------------------------------------------------------

def chat_completion(text: str = "hello from upstream", usage: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-hostile", "object": "chat.completion", "created": 1, "model": "hostile",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def _head(status: int, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "X")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw(status: int, body: bytes, headers: dict[str, str] | None = None) -> Act:
    """Any status and body, with a Content-Length."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        all_headers = {"content-type": "application/json", "content-length": str(len(body)),
                       **(headers or {})}
        writer.write(_head(status, all_headers) + body)
        await writer.drain()
    return act


def completion(text: str = "hello from upstream", usage: Any = None) -> Act:
    return raw(200, orjson.dumps(chat_completion(text, usage)))


def chunk(text: str) -> bytes:
    return b"data: " + orjson.dumps({
        "id": "chatcmpl-hostile", "object": "chat.completion.chunk", "created": 1,
        "model": "hostile", "choices": [{"index": 0, "delta": {"content": text},
                                         "finish_reason": None}]}) + b"\n\n"


def usage_event(usage: Any) -> bytes:
    return b"data: " + orjson.dumps({
        "id": "chatcmpl-hostile", "object": "chat.completion.chunk", "created": 1,
        "model": "hostile", "choices": [], "usage": usage}) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def _sse_head() -> bytes:
    return _head(200, {"content-type": "text/event-stream", "transfer-encoding": "chunked"})


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream(*events: bytes, then: str = "end") -> Act:
    """An SSE stream of `events`; then "end" (properly), "cut" (drop the connection) or
    "stall" (hold it open until released)."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        writer.write(_sse_head())
        for event in events:
            writer.write(_chunked(event))
            await writer.drain()
        if then == "end":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif then == "cut":
            await writer.drain()
            writer.transport.abort()
        else:
            host.stalled.set()
            await host.released()
            writer.close()
    return act


def hang() -> Act:
    """Read the request, answer nothing until released."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        host.stalled.set()
        await host.released()
        writer.close()
    return act


def drip(body: bytes, every_s: float) -> Act:
    """Headers at once, then the body one byte at a time: each gap under any read timeout."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        writer.write(_head(200, {"content-type": "application/json",
                                 "content-length": str(len(body))}))
        for i in range(len(body)):
            writer.write(body[i:i + 1])
            await writer.drain()
            try:
                await asyncio.wait_for(host.released(), every_s)
                break
            except TimeoutError:
                continue
        writer.close()
    return act


def flood(size: int, declared: bool) -> Act:
    """A body of `size` bytes, with a Content-Length (`declared`) or chunked without one."""
    piece = b"x" * 65536

    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        if declared:
            writer.write(_head(200, {"content-type": "application/json",
                                     "content-length": str(size)}))
        else:
            writer.write(_head(200, {"content-type": "application/json",
                                     "transfer-encoding": "chunked"}))
        sent = 0
        while sent < size and not writer.is_closing():
            part = piece[: size - sent]
            writer.write(part if declared else _chunked(part))
            sent += len(part)
            host.flooded = sent
            await writer.drain()
        if not declared:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
    return act


def endless_event(first: bytes, piece: int = 65536) -> Act:
    """One good event, then a `data:` line that never ends, until the reader hangs up."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        writer.write(_sse_head() + _chunked(first) + _chunked(b"data: "))
        filler = _chunked(b"x" * piece)
        while not writer.is_closing():
            writer.write(filler)
            await writer.drain()
    return act


def slow_start(head_after_s: float, event_after_s: float, *events: bytes) -> Act:
    """SSE headers after `head_after_s`, the first event `event_after_s` later, then `events`."""
    async def act(host: Hostile, writer: Writer, seen: Seen) -> None:
        await asyncio.sleep(head_after_s)
        writer.write(_sse_head())
        await writer.drain()
        await asyncio.sleep(event_after_s)
        for event in events:
            writer.write(_chunked(event))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    return act
