"""Keep answers to OpenAI's chat-completions schema, whatever produced them.

litellm's response objects carry fields of its own (`usage.cost`, `provider_specific_fields`,
`reasoning_content`, ...); an OpenAI client may reject or trip over them, and they are not
Junction's to promise. Only the fields OpenAI documents pass, at every level.
"""

from __future__ import annotations

from typing import Any

_TOP = frozenset({"id", "object", "created", "model", "choices", "usage", "system_fingerprint",
                  "service_tier"})
_CHOICE = frozenset({"index", "message", "finish_reason", "logprobs"})
_CHUNK_CHOICE = frozenset({"index", "delta", "finish_reason", "logprobs"})
_MESSAGE = frozenset({"role", "content", "refusal", "tool_calls", "function_call",
                      "annotations", "audio"})
_DELTA = frozenset({"role", "content", "refusal", "tool_calls", "function_call"})
_TOOL_CALL = frozenset({"index", "id", "type", "function"})
_FUNCTION = frozenset({"name", "arguments"})
_USAGE = frozenset({"prompt_tokens", "completion_tokens", "total_tokens",
                    "prompt_tokens_details", "completion_tokens_details"})
_PROMPT_DETAILS = frozenset({"cached_tokens", "audio_tokens"})
_COMPLETION_DETAILS = frozenset({"reasoning_tokens", "audio_tokens",
                                 "accepted_prediction_tokens", "rejected_prediction_tokens"})


def completion_shape(data: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion object with only OpenAI's fields."""
    out = _keep(data, _TOP)
    out["choices"] = [_choice(c, _CHOICE, "message", _MESSAGE)
                      for c in _dicts(data.get("choices"))]
    _usage_into(out, data)
    return out


def chunk_shape(data: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion.chunk object with only OpenAI's fields."""
    out = _keep(data, _TOP)
    out["choices"] = [_choice(c, _CHUNK_CHOICE, "delta", _DELTA)
                      for c in _dicts(data.get("choices"))]
    _usage_into(out, data)
    return out


def _choice(choice: dict[str, Any], fields: frozenset[str], inner: str,
            inner_fields: frozenset[str]) -> dict[str, Any]:
    out = _keep(choice, fields)
    body = choice.get(inner)
    if isinstance(body, dict):
        message = _keep(body, inner_fields)
        calls = body.get("tool_calls")
        if isinstance(calls, list):
            message["tool_calls"] = [_tool_call(c) for c in _dicts(calls)]
        out[inner] = message
    return out


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    out = _keep(call, _TOOL_CALL)
    if isinstance(call.get("function"), dict):
        out["function"] = _keep(call["function"], _FUNCTION)
    return out


def _usage_into(out: dict[str, Any], data: dict[str, Any]) -> None:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        out.pop("usage", None)
        return
    kept = _keep(usage, _USAGE)
    for key, fields in (("prompt_tokens_details", _PROMPT_DETAILS),
                        ("completion_tokens_details", _COMPLETION_DETAILS)):
        if isinstance(usage.get(key), dict):
            kept[key] = _keep(usage[key], fields)
    out["usage"] = kept


def _keep(data: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in fields}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
