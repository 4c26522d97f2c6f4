"""Server-sent events: split a byte stream into events and read usage out of them cheaply."""

from __future__ import annotations

from typing import Any

import orjson

from router.errors import openai_error

DONE = b"data: [DONE]\n\n"


class EventTooLarge(Exception):
    """One SSE event grew past the size limit without ending."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an upstream event passed {limit} bytes")
        self.limit = limit


class EventSplitter:
    """Accumulates bytes and hands back whole events (each ending in a blank line).

    Only the new bytes (and one before them, for a separator split across chunks) are scanned,
    so an event that arrives in many pieces costs time linear in its size; an unfinished event
    larger than `max_event_bytes` raises `EventTooLarge` instead of growing without bound.
    """

    __slots__ = ("_buffer", "_cr", "_max")

    def __init__(self, max_event_bytes: int = 32 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._cr = False  # the last chunk ended in "\r": its "\n" may come next
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        if not self._buffer and not self._cr and chunk.endswith(b"\n\n") and b"\r" not in chunk:
            # The usual chunk: whole events and nothing held over, split in one pass.
            parts = chunk.split(b"\n\n")
            parts.pop()
            return [part + b"\n\n" for part in parts if part.strip()]
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            self._cr = True
        if b"\r\n" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        buffer = self._buffer
        scan = max(len(buffer) - 1, 0)
        buffer += chunk
        events: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n\n", scan)) >= 0:
            part = bytes(buffer[start:end])
            if part.strip():
                events.append(part + b"\n\n")
            start = scan = end + 2
        if start:
            del buffer[:start]
        if len(buffer) > self._max:
            raise EventTooLarge(self._max)
        return events

    def rest(self) -> bytes:
        return bytes(self._buffer) + (b"\r" if self._cr else b"")


def event_data(event: bytes) -> bytes | None:
    """The `data:` payload of one event (multi-line data joined), or None."""
    payload: list[bytes] = []
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            payload.append(line[5:].lstrip(b" "))
    return b"\n".join(payload) if payload else None


def encode_event(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def error_event(message: str, code: str = "upstream_stream_error") -> bytes:
    return encode_event(openai_error(message, "upstream_error", code))
