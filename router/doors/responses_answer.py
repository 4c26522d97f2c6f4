"""The OpenAI Responses door's answer side: a chat completion as a `response` object, and the
output items the stream translator shares."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from router.doors.responses import ResponsesRequest, namespaces, split_name
from router.errors import UpstreamError


def response_id(request_id: str) -> str:
    """The response's id, from Junction's request id so records and answers match."""
    return "resp_" + request_id.removeprefix("jr-")


def response_shell(request: ResponsesRequest, rid: str, model: str,
                   status: str) -> dict[str, Any]:
    """Everything a `response` object holds but its output and usage."""
    text: dict[str, Any] = {"format": {"type": "text"}}
    if request.text is not None:
        text = request.text.model_dump(exclude_none=True, by_alias=True)
        text.setdefault("format", {"type": "text"})
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": status,
        "background": False, "error": None, "incomplete_details": None,
        "instructions": request.instructions, "max_output_tokens": request.max_output_tokens,
        "model": model, "output": [],
        "parallel_tool_calls": (True if request.parallel_tool_calls is None
                                else request.parallel_tool_calls),
        "previous_response_id": None,
        "reasoning": {"effort": request.reasoning.effort if request.reasoning else None,
                      "summary": None},
        # Nothing is kept, whatever the request asked: OpenAI-compatible servers without a
        # response store answer store: false.
        "store": False,
        "temperature": request.temperature, "text": text,
        "tool_choice": request.tool_choice if request.tool_choice is not None else "auto",
        "tools": request.tools or [], "top_p": request.top_p, "truncation": "disabled",
        "usage": None, "user": request.user, "metadata": request.metadata or {},
    }


def response_usage(usage: Any) -> dict[str, Any] | None:
    """Chat usage as Responses usage; None when the upstream's usage is missing or invalid."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    cached = _count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0
    reasoning = (_count(completion_details.get("reasoning_tokens"))
                 if isinstance(completion_details, dict) else 0)
    return {"input_tokens": prompt, "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": cached or 0, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": reasoning or 0}}


def _count(value: Any) -> int | None:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def reasoning_text(message: Mapping[str, Any]) -> str | None:
    """vLLM calls it `reasoning` (newer) or `reasoning_content` (older)."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def translate_completion(body: bytes, request: ResponsesRequest, request_id: str) -> bytes:
    """A chat completion (untrusted upstream bytes) as a `response` object."""
    try:
        completion = orjson.loads(body)
        choice = completion["choices"][0]
        message = choice["message"]
        if not isinstance(message, dict):
            raise TypeError("message")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise UpstreamError("the upstream's answer is not a chat completion; the gateway "
                            "cannot translate it into a response", code="bad_upstream_answer"
                            ) from None
    rid = response_id(request_id)
    hexid = rid.removeprefix("resp_")
    finish = choice.get("finish_reason")
    status = "incomplete" if finish in INCOMPLETE else "completed"
    model = completion.get("model")
    out = response_shell(request, rid, model if isinstance(model, str) else request.model, status)
    if finish in INCOMPLETE:
        out["incomplete_details"] = {"reason": INCOMPLETE[finish]}
    output: list[dict[str, Any]] = out["output"]
    thought = reasoning_text(message)
    if thought is not None:
        output.append(reasoning_item(f"rs_{hexid}", thought, "completed"))
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if isinstance(content, str) and content:
        parts.append(text_part(content))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    if parts:
        output.append({"id": f"msg_{hexid}", "type": "message", "role": "assistant",
                       "status": status, "content": parts})
    calls = message.get("tool_calls")
    spaces = namespaces(request.tools)
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        name, namespace = split_name(str(function.get("name") or ""), spaces)
        output.append(function_call_item(
            f"fc_{hexid}_{i}", str(call.get("id") or f"call_{hexid}_{i}"),
            name, str(function.get("arguments") or ""), "completed", namespace))
    out["usage"] = response_usage(completion.get("usage"))
    return orjson.dumps(out)


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    content = [{"type": "reasoning_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content,
            "status": status}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str,
                       status: str, namespace: str | None = None) -> dict[str, Any]:
    item = {"id": item_id, "type": "function_call", "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}
    if namespace is not None:
        item["namespace"] = namespace
    return item
