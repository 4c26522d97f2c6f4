"""The other way round, for `backend: anthropic` models asked through the chat door: a chat
request as a Messages body, a `message` as a chat completion, Messages events as chat chunks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from router.doors.anthropic import tool_input

# Anthropic requires max_tokens; a chat request may leave it out.
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "pause_turn": "stop", "refusal": "content_filter",
}


def chat_to_messages(body: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages body for a (validated) chat-completions body."""
    out: dict[str, Any] = {"model": body.get("model")}
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_plain_text(message.get("content")))
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message))
        elif role in ("tool", "function"):
            _append(messages, "user", [{
                "type": "tool_result", "tool_use_id": str(message.get("tool_call_id") or ""),
                "content": _plain_text(message.get("content"))}])
        else:
            _append(messages, "user", _user_blocks(message.get("content")))
    if system:
        out["system"] = "\n".join(system)
    out["messages"] = messages
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = limit if isinstance(limit, int) else DEFAULT_MAX_TOKENS
    for name in ("temperature", "top_p", "top_k", "stream"):
        if body.get(name) is not None:
            out[name] = body[name]
    if isinstance(out.get("temperature"), (int, float)):
        out["temperature"] = min(out["temperature"], 1.0)  # Anthropic's range is 0..1
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        out["tools"] = [_tool(t) for t in tools if isinstance(t, Mapping)]
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    return out


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Consecutive turns of one role become one message, as Anthropic expects."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _plain_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content
                         if isinstance(p, Mapping) and p.get("type") in ("text", "input_text"))
    return ""


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if isinstance(url, str):
                blocks.append({"type": "image", "source": _image_source(url)})
    return blocks


def _image_source(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _plain_text(message.get("content"))
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            blocks.append({"type": "tool_use", "id": str(call.get("id") or ""),
                           "name": str(function.get("name") or ""),
                           "input": tool_input(function.get("arguments"))})
    return blocks


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = tool.get("function")
    function = function if isinstance(function, Mapping) else {}
    out: dict[str, Any] = {"name": function.get("name"),
                           "input_schema": function.get("parameters") or {"type": "object"}}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None
    if choice == "required":
        out = {"type": "any"}
    elif choice in ("auto", "none"):
        out = {"type": choice}
    elif isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        out = {"type": "tool", "name": choice["function"].get("name")}
    else:
        out = {"type": "auto"} if parallel is False else None
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def message_to_chat(message: Mapping[str, Any]) -> dict[str, Any]:
    """A Messages `message` as a chat completion."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "thinking":
            thinking.append(str(block.get("thinking", "")))
        elif block.get("type") == "tool_use":
            calls.append({"id": str(block.get("id") or ""), "type": "function", "function": {
                "name": str(block.get("name") or ""),
                "arguments": orjson.dumps(block.get("input") or {}).decode()}})
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if calls:
        reply["tool_calls"] = calls
    stop = message.get("stop_reason")
    return {
        "id": "chatcmpl-" + str(message.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": message.get("model"),
        "choices": [{"index": 0, "message": reply,
                     "finish_reason": FINISH_REASONS.get(stop, "stop")
                     if isinstance(stop, str) else "stop"}],
        "usage": chat_usage(message.get("usage")),
    }


def chat_usage(usage: Any) -> dict[str, int]:
    """Messages usage as chat usage (cache reads and writes count as prompt tokens)."""
    usage = usage if isinstance(usage, Mapping) else {}

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and (
            value >= 0) else 0

    prompt = (count("input_tokens") + count("cache_read_input_tokens")
              + count("cache_creation_input_tokens"))
    completion = count("output_tokens")
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


class MessagesToChatStream:
    """Messages events as chat-completions chunks; `feed` takes one event's data object."""

    def __init__(self, created: int | None = None) -> None:
        self.id = ""
        self.model = ""
        self.created = created if created is not None else int(time.time())
        self.usage: dict[str, int] = {}
        self._tool_index: dict[int, int] = {}  # block index -> chat tool_call index

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def usage_chunk(self) -> bytes:
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "choices": [], "usage": chat_usage(self.usage)}
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def feed(self, obj: Mapping[str, Any]) -> bytes | None:
        kind = obj.get("type")
        if kind == "message_start":
            message = obj.get("message")
            message = message if isinstance(message, Mapping) else {}
            self.id = "chatcmpl-" + str(message.get("id") or "")
            self.model = str(message.get("model") or "")
            self._usage(message.get("usage"))
            return self.chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                index = len(self._tool_index)
                self._tool_index[_int(obj.get("index"))] = index
                return self.chunk({"tool_calls": [{
                    "index": index, "id": str(block.get("id") or ""), "type": "function",
                    "function": {"name": str(block.get("name") or ""), "arguments": ""}}]})
            return None
        if kind == "content_block_delta":
            return self._delta(obj)
        if kind == "message_delta":
            self._usage(obj.get("usage"))
            delta = obj.get("delta")
            stop = delta.get("stop_reason") if isinstance(delta, Mapping) else None
            return self.chunk({}, FINISH_REASONS.get(stop, "stop")
                              if isinstance(stop, str) else "stop")
        return None

    def _delta(self, obj: Mapping[str, Any]) -> bytes | None:
        delta = obj.get("delta")
        if not isinstance(delta, Mapping):
            return None
        kind = delta.get("type")
        if kind == "text_delta":
            return self.chunk({"content": str(delta.get("text", ""))})
        if kind == "thinking_delta":
            return self.chunk({"reasoning_content": str(delta.get("thinking", ""))})
        if kind == "input_json_delta":
            index = self._tool_index.get(_int(obj.get("index")))
            if index is None:
                return None
            return self.chunk({"tool_calls": [{"index": index, "function": {
                "arguments": str(delta.get("partial_json", ""))}}]})
        return None

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, Mapping):
            for key, value in usage.items():
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    self.usage[key] = value


def _int(value: Any) -> int:
    return value if isinstance(value, int) else -1
