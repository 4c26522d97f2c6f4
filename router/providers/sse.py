"""Server-sent events: split a byte stream into events and read usage out of them cheaply."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


class EventSplitter:
    """Accumulates bytes and hands back whole events (each ending in a blank line)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\r\n" in data:
            data = data.replace(b"\r\n", b"\n")
        parts = data.split(b"\n\n")
        self._buffer = parts.pop()
        return [part + b"\n\n" for part in parts if part.strip()]

    def rest(self) -> bytes:
        return self._buffer


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
    return encode_event(
        {"error": {"message": message, "type": "upstream_error", "param": None, "code": code}}
    )
