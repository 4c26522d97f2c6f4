"""Chat-completion chunks as the Responses API's typed stream events, one chunk at a time.

Each upstream chunk becomes its events as it arrives (nothing waits for the end), in the order
OpenAI sends them: `response.created`, `response.in_progress`, then per output item
`output_item.added`, `content_part.added`, the deltas, their `.done` events,
`content_part.done`, `output_item.done`, and last `response.completed` (or
`response.incomplete` when cut by max tokens, or `error` then `response.failed`). Every event
carries a `sequence_number`. The text kept for the `.done` events is bounded.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from router.doors.responses import ResponsesRequest, namespaces, split_name
from router.doors.responses_answer import (
    INCOMPLETE,
    function_call_item,
    reasoning_item,
    response_id,
    response_shell,
    response_usage,
    text_part,
)
from router.providers.sse import EventSplitter, EventTooLarge, event_data

# The output text a stream may accumulate (for its `.done` events and the final response);
# past it the stream fails rather than grow. A generous bound: far above any context window.
MAX_OUTPUT_CHARS = 16 * 1024 * 1024
MAX_EVENT_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _Item:
    kind: str  # "reasoning", "message" or "function_call"
    id: str
    index: int  # output_index
    pieces: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    namespace: str | None = None


class StreamTranslator:
    """Translates one chat stream into Responses events; `start`, `feed` per chunk, `end`."""

    def __init__(self, request: ResponsesRequest, request_id: str) -> None:
        self.request = request
        self.rid = response_id(request_id)
        self.hexid = self.rid.removeprefix("resp_")
        self.model = request.model
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self.items = 0
        self.text: _Item | None = None  # the open reasoning or message item
        self.calls: dict[int, _Item] = {}  # open function calls by the chunk's tool index
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.error: str | None = None
        self.done = False
        self.chars = 0
        self.splitter = EventSplitter(MAX_EVENT_BYTES)
        self.shell = response_shell(request, self.rid, self.model, "in_progress")
        self.namespaces = namespaces(request.tools)

    # -- events ------------------------------------------------------------------------------

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload["type"] = kind
        payload["sequence_number"] = self.seq
        self.seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _response(self, status: str) -> dict[str, Any]:
        response = copy.copy(self.shell)
        response["status"] = status
        response["model"] = self.model
        response["output"] = list(self.output)
        return response

    def start(self) -> bytes:
        return (self._event("response.created", {"response": self._response("in_progress")})
                + self._event("response.in_progress",
                              {"response": self._response("in_progress")}))

    # -- chunks ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """The events for a piece of the upstream's SSE bytes."""
        out: list[bytes] = []
        try:
            events = self.splitter.feed(data)
        except EventTooLarge as exc:
            self.error = str(exc)
            return b""
        for event in events:
            payload = event_data(event)
            if payload is None or self.error is not None:
                continue
            if payload == b"[DONE]":
                self.done = True
                continue
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                self.error = "the upstream sent an event that is not JSON"
                continue
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                error = chunk["error"]
                message = error.get("message") if isinstance(error, dict) else None
                self.error = str(message or error)[:1000]
                continue
            out.append(self._chunk(chunk))
        return b"".join(out)

    def _chunk(self, chunk: dict[str, Any]) -> bytes:
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        if chunk.get("usage") is not None:
            self.usage = response_usage(chunk["usage"])
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self.finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return b""
        out: list[bytes] = []
        for key in ("reasoning_content", "reasoning"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                out.append(self._text("reasoning", value))
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(self._text("message", content))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    out.append(self._call(call))
        return b"".join(out)

    def _grow(self, item: _Item, piece: str) -> bool:
        self.chars += len(piece)
        if self.chars > MAX_OUTPUT_CHARS:
            self.error = f"the answer passed {MAX_OUTPUT_CHARS} characters"
            return False
        item.pieces.append(piece)
        return True

    def _text(self, kind: str, piece: str) -> bytes:
        out = b""
        item = self.text
        if item is None or item.kind != kind:
            out += self._close_text()
            item = self.text = _Item(kind, f"{'rs' if kind == 'reasoning' else 'msg'}_"
                                           f"{self.hexid}_{self.items}", self.items)
            self.items += 1
            if kind == "reasoning":
                added = reasoning_item(item.id, "", "in_progress")
                part: dict[str, Any] = {"type": "reasoning_text", "text": ""}
            else:
                added = {"id": item.id, "type": "message", "role": "assistant",
                         "status": "in_progress", "content": []}
                part = text_part("")
            out += self._event("response.output_item.added",
                               {"output_index": item.index, "item": added})
            out += self._event("response.content_part.added", {
                "item_id": item.id, "output_index": item.index, "content_index": 0,
                "part": part})
        if not self._grow(item, piece):
            return out
        delta: dict[str, Any] = {"item_id": item.id, "output_index": item.index,
                                 "content_index": 0, "delta": piece}
        if kind == "reasoning":
            return out + self._event("response.reasoning_text.delta", delta)
        delta["logprobs"] = []
        return out + self._event("response.output_text.delta", delta)

    def _close_text(self, status: str = "completed") -> bytes:
        item, self.text = self.text, None
        if item is None:
            return b""
        text = "".join(item.pieces)
        where = {"item_id": item.id, "output_index": item.index, "content_index": 0}
        if item.kind == "reasoning":
            done: dict[str, Any] = reasoning_item(item.id, text, status)
            out = self._event("response.reasoning_text.done", {**where, "text": text})
            out += self._event("response.content_part.done",
                               {**where, "part": {"type": "reasoning_text", "text": text}})
        else:
            part = text_part(text)
            done = {"id": item.id, "type": "message", "role": "assistant", "status": status,
                    "content": [part]}
            out = self._event("response.output_text.done", {**where, "text": text,
                                                             "logprobs": []})
            out += self._event("response.content_part.done", {**where, "part": part})
        self.output.append(done)
        return out + self._event("response.output_item.done",
                                 {"output_index": item.index, "item": done})

    def _call(self, call: dict[str, Any]) -> bytes:
        index = call.get("index", 0)
        index = index if isinstance(index, int) else 0
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        out = b""
        item = self.calls.get(index)
        if item is None:
            out += self._close_text()
            call_id = call.get("id")
            name, namespace = split_name(str(function.get("name") or ""), self.namespaces)
            item = _Item("function_call", f"fc_{self.hexid}_{self.items}", self.items,
                         call_id=call_id if isinstance(call_id, str) and call_id
                         else f"call_{self.hexid}_{self.items}", name=name,
                         namespace=namespace)
            self.items += 1
            self.calls[index] = item
            out += self._event("response.output_item.added", {
                "output_index": item.index,
                "item": function_call_item(item.id, item.call_id, item.name, "",
                                           "in_progress", item.namespace)})
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments and self._grow(item, arguments):
            out += self._event("response.function_call_arguments.delta", {
                "item_id": item.id, "output_index": item.index, "delta": arguments})
        return out

    def _close_calls(self, status: str = "completed") -> bytes:
        out = b""
        for item in sorted(self.calls.values(), key=lambda i: i.index):
            arguments = "".join(item.pieces)
            done = function_call_item(item.id, item.call_id, item.name, arguments, status,
                                      item.namespace)
            out += self._event("response.function_call_arguments.done", {
                "item_id": item.id, "output_index": item.index, "name": item.name,
                "arguments": arguments})
            self.output.append(done)
            out += self._event("response.output_item.done",
                               {"output_index": item.index, "item": done})
        self.calls = {}
        return out

    # -- the end -----------------------------------------------------------------------------

    def end(self) -> bytes:
        """The closing events: whatever is open is done, then the response's final state."""
        if self.error is None and not self.done:
            self.error = "the upstream closed the stream before it finished"
        failed = self.error is not None
        incomplete = not failed and self.finish in INCOMPLETE
        status = "failed" if failed else "incomplete" if incomplete else "completed"
        item_status = "completed" if status == "completed" else "incomplete"
        out = self._close_text(item_status) + self._close_calls(item_status)
        self.output.sort(key=lambda item: int(str(item["id"]).rsplit("_", 1)[1]))
        response = self._response(status)
        response["usage"] = self.usage
        if failed:
            message = f"the upstream failed mid-stream: {self.error}"
            response["error"] = {"code": "server_error", "message": message}
            out += self._event("error", {"code": "server_error", "message": message,
                                         "param": None})
            return out + self._event("response.failed", {"response": response})
        if incomplete:
            response["incomplete_details"] = {"reason": INCOMPLETE[str(self.finish)]}
            return out + self._event("response.incomplete", {"response": response})
        return out + self._event("response.completed", {"response": response})


async def translate_stream(chunks: AsyncIterator[bytes], request: ResponsesRequest,
                           request_id: str) -> AsyncIterator[bytes]:
    """The Responses stream for a chat stream (closing it closes the upstream's).

    The opening events go out with the first upstream chunk's and the closing ones with the
    chunk that ends the stream: one write each, never a wait (the first chunk has already
    arrived when the stream is handed over). After an error the rest of the upstream stream is
    read and dropped, so the gateway records the stream's end as the chat door would."""
    translator = StreamTranslator(request, request_id)
    head = translator.start()
    ended = False
    try:
        async for chunk in chunks:
            if ended:
                continue
            events = head + translator.feed(chunk)
            head = b""
            if translator.done:
                events += translator.end()
                ended = True
            if events:
                yield events
        if not ended:
            yield head + translator.end()
    finally:
        closer = getattr(chunks, "aclose", None)
        if closer is not None:
            await closer()
