"""Anthropic's Messages wire format: reading requests, writing messages and stream events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from junction_emulate.behaviour import EmulatorBehaviour
from junction_emulate.errors import EmulatedError
from junction_emulate.fields import (
    message_text,
    optional_bool,
    optional_int,
    required_list,
    required_str,
)
from junction_emulate.replies import Ask, Reply, ToolChoice, ToolSpec, estimate_tokens

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
PING = b'event: ping\ndata: {"type":"ping"}\n\n'
MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A validated Messages request."""

    ask: Ask
    stream: bool


def parse_messages_request(
    body: Mapping[str, Any], behaviour: EmulatorBehaviour
) -> MessagesRequest:
    """Validate `body` as Anthropic would (400/404) and translate it into an `Ask`."""
    model = required_str(body, "model")
    if behaviour.models and model not in behaviour.models:
        raise EmulatedError(404, f"model: {model}")
    if body.get("max_tokens") is None:
        raise EmulatedError(400, "max_tokens: Field required", param="max_tokens")
    max_tokens = optional_int(body, "max_tokens", minimum=1)
    messages = required_list(body, "messages")
    tools = _tools(body)
    tool_choice, named = _tool_choice(body, tools)
    ask = Ask(
        model=model,
        prompt_tokens=estimate_tokens([body.get("system"), messages]),
        user_text=_user_text(messages[-1]),
        tools=tools,
        tool_choice=tool_choice,
        named_tool=named,
        max_tokens=max_tokens,
    )
    return MessagesRequest(ask=ask, stream=optional_bool(body, "stream"))


def usage_body(ask: Ask, reply: Reply) -> dict[str, Any]:
    """The `usage` object of a message."""
    return {
        "input_tokens": ask.prompt_tokens,
        "output_tokens": reply.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def message_body(message_id: str, ask: Ask, reply: Reply) -> dict[str, Any]:
    """A complete `message` object."""
    content: list[dict[str, Any]] = []
    if reply.content or reply.tool_call is None:
        content.append({"type": "text", "text": reply.text})
    if reply.tool_call is not None:
        call = reply.tool_call
        content.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments_object()}
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": ask.model,
        "content": content,
        "stop_reason": STOP_REASONS[reply.finish],
        "stop_sequence": None,
        "usage": usage_body(ask, reply),
    }


def event(name: str, payload: dict[str, Any]) -> bytes:
    """One SSE event as Anthropic writes it: an `event:` line, then a `data:` line."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def message_start(message_id: str, ask: Ask) -> bytes:
    """The opening event: the message with no content yet."""
    usage = {
        "input_tokens": ask.prompt_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": ask.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return event("message_start", {"type": "message_start", "message": message})


def block_start(index: int, reply: Reply, tool: bool) -> bytes:
    """Opens content block `index`: text, or the reply's tool_use."""
    block: dict[str, Any] = {"type": "text", "text": ""}
    if tool and reply.tool_call is not None:
        block = {
            "type": "tool_use",
            "id": reply.tool_call.id,
            "name": reply.tool_call.name,
            "input": {},
        }
    return event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def block_delta(index: int, tool: bool, text: str) -> bytes:
    """One token: a text_delta, or an input_json_delta slice of the tool's input."""
    if tool:
        delta = {"type": "input_json_delta", "partial_json": text}
    else:
        delta = {"type": "text_delta", "text": text}
    return event(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def block_stop(index: int) -> bytes:
    """Closes content block `index`."""
    return event("content_block_stop", {"type": "content_block_stop", "index": index})


def message_delta(reply: Reply) -> bytes:
    """The closing delta: stop reason and output usage."""
    payload = {
        "type": "message_delta",
        "delta": {"stop_reason": STOP_REASONS[reply.finish], "stop_sequence": None},
        "usage": {"output_tokens": reply.completion_tokens},
    }
    return event("message_delta", payload)


def models_body(behaviour: EmulatorBehaviour) -> dict[str, Any]:
    """GET /v1/models in Anthropic's shape."""
    data = [
        {"type": "model", "id": model, "display_name": model, "created_at": "2025-01-01T00:00:00Z"}
        for model in behaviour.models
    ]
    first = data[0]["id"] if data else None
    return {
        "data": data,
        "has_more": False,
        "first_id": first,
        "last_id": data[-1]["id"] if data else None,
    }


def _user_text(last: Any) -> str | None:
    # After a tool_result the model answers the result; it does not call the tool again.
    if not isinstance(last, Mapping) or last.get("role") != "user":
        return None
    content = last.get("content")
    if isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    ):
        return None
    return message_text(last)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    raw = body.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise EmulatedError(400, "tools: Input should be a valid list", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        name = tool.get("name") if isinstance(tool, Mapping) else None
        if not isinstance(name, str) or not name:
            raise EmulatedError(400, f"tools.{i}.name: Field required", param=f"tools.{i}.name")
        schema = tool.get("input_schema") if isinstance(tool, Mapping) else None
        tools.append(ToolSpec(name, schema if isinstance(schema, Mapping) else {}))
    return tuple(tools)


def _tool_choice(
    body: Mapping[str, Any], tools: tuple[ToolSpec, ...]
) -> tuple[ToolChoice, str | None]:
    raw = body.get("tool_choice")
    if raw is None:
        return "auto", None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind in ("auto", "none"):
        return ("auto" if kind == "auto" else "none"), None
    if kind == "any":
        return "required", None
    name = raw.get("name") if isinstance(raw, Mapping) else None
    if kind == "tool" and isinstance(name, str) and name in {tool.name for tool in tools}:
        return "named", name
    raise EmulatedError(
        400,
        f"tool_choice: {raw!r} is invalid; allowed: {{'type': 'auto'|'any'|'none'}} or "
        "{'type': 'tool', 'name': <one of tools>}",
        param="tool_choice",
    )
