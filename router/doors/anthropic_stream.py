"""A chat-completions event stream as Anthropic's Messages event sequence, event by event.

message_start, ping, then per content block content_block_start / content_block_delta
(thinking_delta, text_delta, input_json_delta) / content_block_stop, then message_delta (stop
reason and usage) and message_stop; an upstream error becomes an `error` event. Chat chunks are
translated as they arrive: only the current event is buffered (bounded by the splitter).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from router.doors.anthropic import stop_reason_of, usage_of
from router.providers.sse import EventSplitter, EventTooLarge, event_data

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def event(name: str, payload: Mapping[str, Any]) -> bytes:
    """One SSE event as Anthropic writes it: an `event:` line, then a `data:` line."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_event(message: str, kind: str = "api_error") -> bytes:
    return event("error", {"type": "error", "error": {"type": kind, "message": message}})


class ChatToMessagesStream:
    """Translates one chat-completions SSE stream; feed it the bytes, in order."""

    def __init__(self, input_tokens: int, stop_sequences: list[str] | None,
                 max_event_bytes: int) -> None:
        self._splitter = EventSplitter(max_event_bytes)
        self._held = False  # the splitter holds part of an event
        self._input_tokens = input_tokens
        self._stop_sequences = stop_sequences
        self._started = False
        self._block = -1
        self._block_kind: str | None = None
        self._tool_blocks: dict[int, int] = {}  # chat tool_call index -> block index
        self._finish: Any = None
        self._matched: Any = None
        self._usage: Any = None
        self.finished = False  # message_stop (or an error event) was sent

    async def translate(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The Anthropic events for `chunks`; ends with message_stop or an error event.

        `chunks` is closed at the end in any case: the gateway's stream settles the budget and
        writes the record when it closes, even when the translation stopped reading early.
        """
        try:
            async for chunk in chunks:
                out = self.feed(chunk)
                if out:
                    yield out
                if self.finished:
                    break
        except EventTooLarge as exc:
            self.finished = True
            yield error_event(f"an upstream event passed {exc.limit} bytes")
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        if not self.finished:
            self.finished = True
            yield error_event("the upstream closed the stream before it finished")

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for data in self._payloads(chunk):
            if data is None or self.finished:
                continue
            if data == b"[DONE]":
                self._done(out)
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue  # not an event a client could use either
            if not isinstance(obj, dict):
                continue
            if obj.get("error") is not None:
                error = obj["error"]
                message = error.get("message") if isinstance(error, Mapping) else error
                out.append(error_event(str(message)[:500]))
                self.finished = True
                continue
            self._chunk(obj, out)
        return b"".join(out)

    def _payloads(self, chunk: bytes) -> list[bytes | None]:
        """The `data:` payloads of the whole events in `chunk` (and in what came before)."""
        if not self._held and chunk.startswith(b"data: ") and chunk.endswith(b"\n\n"):
            # The usual chunk: whole one-line `data:` events, each "data: ...\n\n".
            lines = chunk.count(b"\n")
            if lines == 2 and b"\r" not in chunk:
                return [chunk[6:-2]]
            if lines == 2 * chunk.count(b"\ndata: ") + 2 and b"\r" not in chunk:
                return [p[6:] for p in chunk[:-2].split(b"\n\n")]
        payloads = [event_data(raw) for raw in self._splitter.feed(chunk)]
        self._held = bool(self._splitter.rest())
        return payloads

    def _start(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        self._started = True
        ident = obj.get("id")
        model = obj.get("model")
        message: dict[str, Any] = {
            "id": "msg_" + str(ident or ""), "type": "message", "role": "assistant",
            "model": model if isinstance(model, str) else "", "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        out.append(event("message_start", {"type": "message_start", "message": message}))
        out.append(PING)

    def _chunk(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        if not self._started:
            self._start(obj, out)
        usage = obj.get("usage")
        if usage is not None:
            self._usage = usage
        choices = obj.get("choices")
        if type(choices) is not list or not choices or type(choices[0]) is not dict:
            return
        choice = choices[0]
        delta = choice.get("delta")
        if type(delta) is dict and delta:
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and type(reasoning) is str:
                self._open("thinking", out)
                self._delta({"type": "thinking_delta", "thinking": reasoning}, out)
            text = delta.get("content")
            if text and type(text) is str:
                self._open("text", out)
                out.append(b'event: content_block_delta\ndata: {"type":"content_block_delta",'
                           b'"index":%d,"delta":{"type":"text_delta","text":%b}}\n\n'
                           % (self._block, orjson.dumps(text)))
            calls = delta.get("tool_calls")
            if calls and type(calls) is list:
                for call in calls:
                    if isinstance(call, Mapping):
                        self._tool_call(call, out)
        if choice.get("finish_reason") is not None:
            self._finish = choice["finish_reason"]
            self._matched = choice.get("stop_reason")

    def _open(self, kind: str, out: list[bytes], block: dict[str, Any] | None = None) -> None:
        if self._block_kind == kind and block is None:
            return
        self._close_block(out)
        self._block += 1
        self._block_kind = kind
        if block is None:
            block = ({"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking"
                     else {"type": "text", "text": ""})
        out.append(event("content_block_start", {"type": "content_block_start",
                                                 "index": self._block, "content_block": block}))

    def _close_block(self, out: list[bytes]) -> None:
        if self._block_kind is not None:
            out.append(event("content_block_stop", {"type": "content_block_stop",
                                                    "index": self._block}))
            self._block_kind = None

    def _delta(self, delta: Mapping[str, Any], out: list[bytes]) -> None:
        out.append(event("content_block_delta", {"type": "content_block_delta",
                                                 "index": self._block, "delta": delta}))

    def _tool_call(self, call: Mapping[str, Any], out: list[bytes]) -> None:
        index = call.get("index", 0)
        index = index if isinstance(index, int) else 0
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        if index not in self._tool_blocks:
            name = function.get("name")
            self._open("tool_use", out, {"type": "tool_use", "id": str(call.get("id") or ""),
                                         "name": name if isinstance(name, str) else "",
                                         "input": {}})
            self._tool_blocks[index] = self._block
        elif self._tool_blocks[index] != self._block:
            return  # a late piece of an earlier call: Anthropic cannot reopen a block
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._delta({"type": "input_json_delta", "partial_json": arguments}, out)

    def _done(self, out: list[bytes]) -> None:
        if not self._started:
            self._start({}, out)
        if self._block < 0:
            self._open("text", out)
        self._close_block(out)
        stop_reason, stop_sequence = stop_reason_of(self._finish, self._matched,
                                                    self._stop_sequences)
        usage = usage_of(self._usage)
        out.append(event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": {"output_tokens": usage["output_tokens"],
                      "input_tokens": usage["input_tokens"] or self._input_tokens},
        }))
        out.append(MESSAGE_STOP)
        self.finished = True
