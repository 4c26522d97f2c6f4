"""The Anthropic Messages door: a Messages request as a chat-completions body, a chat
completion as a Messages `message`, and Junction's errors in Anthropic's shape.

The gateway decides on the translated body (so classification, rules and budgets see what they
see on the chat door); a model with `backend: anthropic` is sent the original Messages body
instead (`NativeBody`), so passthrough loses nothing. What chat completions cannot carry is
dropped from the translation only: `thinking` and `redacted_thinking` blocks in history (an
OpenAI-compatible model cannot verify their signatures), `cache_control` marks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from router.doors import register_shape
from router.errors import InvalidRequest

# Anthropic's error type for each status it uses; other statuses borrow the nearest.
ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
# Statuses Anthropic does not use, as the ones its clients know: 405/422 are bad requests, and
# 503 (nothing may serve now; retry) is what Anthropic calls overloaded.
STATUS_AS: Mapping[int, int] = {405: 400, 422: 400, 503: 529}
STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "refusal",
}
_EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))
# "system" mid-conversation: Anthropic's mid-conversation-system beta, which Claude Code uses.
_ROLES = ("user", "assistant", "system")
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}


def anthropic_status(status: int) -> int:
    """The status a Messages client gets for Junction's `status`."""
    return STATUS_AS.get(status, status)


def anthropic_error(status: int, message: str, request_id: str | None = None,
                    code: str | None = None) -> dict[str, Any]:
    """Anthropic's error body; Junction's `code` and request id ride along as extra keys."""
    kind = ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    body: dict[str, Any] = {"type": "error", "error": error}
    if request_id:
        body["request_id"] = request_id
    return body


def error_from_openai(status: int, content: bytes, request_id: str | None) -> bytes:
    """An error body the gateway wrote in OpenAI's shape (or an upstream's, in Anthropic's,
    kept as it came) as Anthropic's; unreadable bodies get a message of their own."""
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, dict) and obj.get("type") == "error" and isinstance(obj.get("error"),
                                                                           dict):
        if request_id:
            obj.setdefault("request_id", request_id)
        return orjson.dumps(obj)
    error = obj.get("error") if isinstance(obj, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    if not isinstance(message, str):
        message = f"the gateway answered {status} with no readable error"
    return orjson.dumps(anthropic_error(anthropic_status(status), message, request_id,
                                        code if isinstance(code, str) else None))


# -- request: Messages -> chat completions ---------------------------------------------------


def is_messages_request(body: Mapping[str, Any]) -> bool:
    """A Messages body: `max_tokens` with content blocks or a top-level `system`, or blocks
    that only Anthropic has (`tool_use`, `tool_result`, `image` with a `source`)."""
    if "system" in body or "stop_sequences" in body or "thinking" in body:
        return True
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, Mapping) and block.get("type") in (
                        "tool_use", "tool_result", "image", "thinking", "document"):
                    return True
    return False


def messages_to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-completions body for a Messages request; `InvalidRequest` names a bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required (a string: 'auto', a route or a model)",
                             param="model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise InvalidRequest("max_tokens: Field required", param="max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequest(f"max_tokens: must be an integer >= 1, got {max_tokens!r}",
                             param="max_tokens")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list):
        raise InvalidRequest("messages: Field required (a list of messages)", param="messages")
    chat: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system is not None:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(raw_messages):
        messages.extend(_message(message, f"messages.{i}"))
    chat["messages"] = messages
    _sampling(body, chat)
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise InvalidRequest(f"stream: must be a boolean, got {stream!r}", param="stream")
        if stream:
            chat["stream"] = True
            chat["stream_options"] = {"include_usage": True}
    if body.get("tools") is not None:
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    _thinking(body.get("thinking"), chat)
    output_config = body.get("output_config")
    effort = output_config.get("effort") if isinstance(output_config, Mapping) else None
    if isinstance(effort, str) and effort in _EFFORTS:
        chat["reasoning_effort"] = _EFFORTS[effort]
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"]
    return chat


def _system_text(system: Any) -> str | None:
    if system is None:
        return None
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(_text_block(block, f"system.{i}") for i, block in enumerate(system))
    raise InvalidRequest("system: must be a string or a list of text blocks", param="system")


def _text_block(block: Any, where: str) -> str:
    if (isinstance(block, Mapping) and block.get("type") == "text"
            and isinstance(block.get("text"), str)):
        return str(block["text"])
    raise InvalidRequest(f"{where}: must be a text block ({{'type': 'text', 'text': ...}})",
                         param=where)


def _message(message: Any, where: str) -> list[dict[str, Any]]:
    """One Messages message as chat messages: tool results become `tool` messages first."""
    if not isinstance(message, Mapping):
        raise InvalidRequest(f"{where}: must be an object with role and content", param=where)
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"{where}.role: {role!r} is not one of 'user', 'assistant', "
                             "'system'", param=f"{where}.role")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if role == "system":
        return [{"role": "system", "content": _system_text(content) or ""}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or a list of content blocks",
                             param=f"{where}.content")
    if role == "assistant":
        return [_assistant(content, where)]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "tool_result":
            tools.append(_tool_result(block, at))
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            parts.append(_user_part(block, kind, at))
    out = tools
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _user_part(block: Any, kind: Any, where: str) -> dict[str, Any]:
    if kind == "text":
        return {"type": "text", "text": _text_block(block, where)}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _source_url(block, where, "image")}}
    if kind == "document":
        source = block.get("source")
        if isinstance(source, Mapping) and source.get("type") == "text":
            return {"type": "text", "text": str(source.get("data", ""))}
        return {"type": "file", "file": {"file_data": _source_url(block, where, "document")}}
    raise InvalidRequest(
        f"{where}.type: {kind!r} is not a content block this gateway can translate; use "
        "text, image, document, tool_result (or route to a model with backend: anthropic)",
        param=f"{where}.type")


def _source_url(block: Mapping[str, Any], where: str, kind: str) -> str:
    """An image or document source as a URL: base64 sources become data URLs."""
    source = block.get("source")
    kind_of = source.get("type") if isinstance(source, Mapping) else None
    if kind_of == "base64" and isinstance(source, Mapping):
        media, data = source.get("media_type"), source.get("data")
        if isinstance(media, str) and isinstance(data, str):
            return f"data:{media};base64,{data}"
    elif kind_of == "url" and isinstance(source, Mapping) and isinstance(source.get("url"), str):
        return str(source["url"])
    raise InvalidRequest(
        f"{where}.source: an {kind} source must be {{'type': 'base64', 'media_type', 'data'}} "
        "or {'type': 'url', 'url'}", param=f"{where}.source")


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise InvalidRequest(f"{where}.tool_use_id: Field required", param=f"{where}.tool_use_id")
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(_text_block(part, f"{where}.content.{k}")
                         for k, part in enumerate(content)
                         if not (isinstance(part, Mapping) and part.get("type") == "image"))
    else:
        raise InvalidRequest(f"{where}.content: must be a string or a list of text blocks",
                             param=f"{where}.content")
    if block.get("is_error") is True:
        text = "Error: " + text
    return {"role": "tool", "tool_call_id": tool_use_id, "content": text}


def _assistant(content: list[Any], where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content.{j}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(_text_block(block, at))
        elif kind == "tool_use":
            assert isinstance(block, Mapping)
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise InvalidRequest(f"{at}: a tool_use block needs a string id and name",
                                     param=at)
            calls.append({"id": call_id, "type": "function", "function": {
                "name": name, "arguments": json.dumps(block.get("input") or {})}})
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise InvalidRequest(
                f"{at}.type: {kind!r} is not allowed in an assistant message; use text, "
                "tool_use, thinking or redacted_thinking", param=f"{at}.type")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        out["tool_calls"] = calls
    return out


def _sampling(body: Mapping[str, Any], chat: dict[str, Any]) -> None:
    for name, top in (("temperature", 1.0), ("top_p", 1.0)):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 <= value <= top):
            raise InvalidRequest(f"{name}: must be a number from 0 to {top:g}, got {value!r}",
                                 param=name)
        chat[name] = value
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidRequest(f"top_k: must be an integer >= 0, got {top_k!r}", param="top_k")
        chat["top_k"] = top_k
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequest("stop_sequences: must be a list of strings",
                                 param="stop_sequences")
        if stops:
            chat["stop"] = stops


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise InvalidRequest("tools: must be a list of tools", param="tools")
    out = []
    for i, tool in enumerate(tools):
        where = f"tools.{i}"
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"{where}.name: Field required", param=f"{where}.name")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise InvalidRequest(
                f"{where}.type: {kind!r} is an Anthropic server tool, which only a model with "
                "backend: anthropic runs; declare client tools with name and input_schema",
                param=f"{where}.type")
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping):
            raise InvalidRequest(f"{where}.input_schema: Field required (a JSON schema object)",
                                 param=f"{where}.input_schema")
        function: dict[str, Any] = {"name": tool["name"], "parameters": dict(schema)}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice, Mapping) and isinstance(choice.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise InvalidRequest(
            f"tool_choice: {choice!r} is not one of {{'type': 'auto'}}, {{'type': 'any'}}, "
            "{'type': 'none'}, {'type': 'tool', 'name': ...}", param="tool_choice")
    if isinstance(choice, Mapping) and choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _thinking(thinking: Any, chat: dict[str, Any]) -> None:
    """Extended thinking as a reasoning effort: the budget picks low, medium or high."""
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind == "disabled":
        return
    budget = thinking.get("budget_tokens") if isinstance(thinking, Mapping) else None
    if kind == "adaptive":
        chat["reasoning_effort"] = "medium"
        return
    if kind != "enabled" or isinstance(budget, bool) or not isinstance(budget, int) or (
            budget < 1024):
        raise InvalidRequest(
            "thinking: must be {'type': 'enabled', 'budget_tokens': >= 1024} or "
            "{'type': 'disabled'}", param="thinking")
    chat["reasoning_effort"] = next((e for limit, e in _EFFORT_BUDGETS if budget < limit), "high")


# -- response: chat completion -> Messages ---------------------------------------------------


def chat_to_message(completion: Mapping[str, Any], stop_sequences: list[str] | None = None,
                    ) -> dict[str, Any]:
    """A (validated, 200) chat completion as a Messages `message`."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, Mapping) else None
    message = message if isinstance(message, Mapping) else {}
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        block = _tool_use(call)
        if block is not None:
            content.append(block)
    if not content:
        content.append({"type": "text", "text": ""})
    finish = choice.get("finish_reason") if isinstance(choice, Mapping) else None
    stop_reason, stop_sequence = stop_reason_of(
        finish, choice.get("stop_reason") if isinstance(choice, Mapping) else None,
        stop_sequences)
    ident = completion.get("id")
    model = completion.get("model")
    return {
        "id": ident if isinstance(ident, str) and ident.startswith("msg_")
        else "msg_" + str(ident or ""),
        "type": "message",
        "role": "assistant",
        "model": model if isinstance(model, str) else "",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage_of(completion.get("usage")),
    }


def stop_reason_of(finish: Any, matched: Any, stop_sequences: list[str] | None
                   ) -> tuple[str, str | None]:
    """Anthropic's stop reason (and the stop sequence, when vLLM says which one matched)."""
    if finish == "stop" and isinstance(matched, str) and stop_sequences and (
            matched in stop_sequences):
        return "stop_sequence", matched
    return STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn", None


def usage_of(usage: Any) -> dict[str, int]:
    """Chat usage as Messages usage; absent or invalid counts are 0."""
    def count(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) and (
            value >= 0) else 0

    usage = usage if isinstance(usage, Mapping) else {}
    details = usage.get("prompt_tokens_details")
    cached = count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    return {"input_tokens": count(usage.get("prompt_tokens")),
            "output_tokens": count(usage.get("completion_tokens")),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached}


def _tool_use(call: Any) -> dict[str, Any] | None:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        return None
    return {"type": "tool_use", "id": str(call.get("id") or ""), "name": function["name"],
            "input": tool_input(function.get("arguments"))}


def tool_input(arguments: Any) -> dict[str, Any]:
    """A tool call's JSON arguments as the object Anthropic's `input` must be."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if isinstance(arguments, str) and arguments.strip():
        try:
            value = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {"_arguments": arguments}  # not JSON: kept, never dropped
        return value if isinstance(value, dict) else {"_arguments": value}
    return {}


register_shape("messages", is_messages_request, messages_to_chat)
