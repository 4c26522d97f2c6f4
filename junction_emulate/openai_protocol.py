"""OpenAI's chat-completions wire format: reading requests, writing completions and chunks.

Shared by the OpenAI and vLLM emulators; `ChatFlavour` carries the few fields that differ.
"""

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
    optional_object,
    required_list,
    required_str,
)
from junction_emulate.replies import Ask, Reply, StepKind, ToolChoice, ToolSpec, estimate_tokens

DONE = b"data: [DONE]\n\n"
# Marks where a token goes in a pre-rendered chunk; no model would ever produce it.
_SENTINEL = "\u2063emulated-token\u2063"
_SENTINEL_JSON = orjson.dumps(_SENTINEL)


@dataclass(frozen=True, slots=True)
class ChatFlavour:
    """What differs between OpenAI's own chat API and vLLM's copy of it."""

    vllm: bool
    owned_by: str
    tool_call_prefix: str


OPENAI = ChatFlavour(vllm=False, owned_by="system", tool_call_prefix="call_")
VLLM = ChatFlavour(vllm=True, owned_by="vllm", tool_call_prefix="chatcmpl-tool-")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat-completions request."""

    ask: Ask
    stream: bool
    include_usage: bool
    n: int


def parse_chat_request(
    body: Mapping[str, Any], behaviour: EmulatorBehaviour, flavour: ChatFlavour
) -> ChatRequest:
    """Validate `body` (400/404 as the provider would) and translate it into an `Ask`."""
    model = required_str(body, "model")
    if behaviour.models and model not in behaviour.models:
        raise _unknown_model(model, flavour)
    messages = required_list(body, "messages")
    prompt_tokens = behaviour.prompt_tokens or estimate_tokens(messages)
    if flavour.vllm and prompt_tokens > behaviour.max_model_len:
        raise EmulatedError(
            400,
            f"This model's maximum context length is {behaviour.max_model_len} tokens. However, "
            f"your request has {prompt_tokens} input tokens. Please reduce the length of the "
            "input messages.",
            param="messages",
        )
    tools = _tools(body)
    tool_choice, named = _tool_choice(body, tools)
    json_mode, json_schema = _response_format(body)
    max_tokens = optional_int(body, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = optional_int(body, "max_tokens", minimum=1)
    last = messages[-1]
    user_text = (
        message_text(last) if isinstance(last, Mapping) and last.get("role") == "user" else None
    )
    ask = Ask(
        model=model,
        prompt_tokens=prompt_tokens,
        user_text=user_text,
        tools=tools,
        tool_choice=tool_choice,
        named_tool=named,
        json_mode=json_mode,
        json_schema=json_schema,
        max_tokens=max_tokens,
        min_tokens=(optional_int(body, "min_tokens", minimum=0) or 0) if flavour.vllm else 0,
        ignore_eos=flavour.vllm and optional_bool(body, "ignore_eos"),
        thinking=flavour.vllm and _thinking_enabled(body),
    )
    stream = optional_bool(body, "stream")
    include_usage = stream and optional_bool(
        optional_object(body, "stream_options"), "include_usage"
    )
    n = optional_int(body, "n", minimum=1, maximum=128) or 1
    return ChatRequest(ask=ask, stream=stream, include_usage=include_usage, n=n)


def completion_body(
    *, completion_id: str, created: int, ask: Ask, replies: list[Reply], flavour: ChatFlavour
) -> dict[str, Any]:
    """A `chat.completion` object."""
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": ask.model,
        "choices": [_choice(index, reply, flavour) for index, reply in enumerate(replies)],
        "usage": usage_body(ask.prompt_tokens, replies, flavour),
    }
    if flavour.vllm:
        body.update(
            service_tier=None,
            system_fingerprint=None,
            prompt_logprobs=None,
            kv_transfer_params=None,
        )
    else:
        body.update(service_tier="default", system_fingerprint="fp_emulated")
    return body


def usage_body(prompt_tokens: int, replies: list[Reply], flavour: ChatFlavour) -> dict[str, Any]:
    """The `usage` object; reasoning tokens count as completion tokens."""
    completion = sum(reply.completion_tokens for reply in replies)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    if flavour.vllm:
        usage["prompt_tokens_details"] = None
    else:
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {
            "reasoning_tokens": sum(len(reply.reasoning) for reply in replies),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


def models_body(behaviour: EmulatorBehaviour, flavour: ChatFlavour, created: int) -> dict[str, Any]:
    """GET /v1/models: OpenAI's list, or vLLM's with `max_model_len` and `root`."""
    data: list[dict[str, Any]] = []
    for model in behaviour.models:
        entry: dict[str, Any] = {
            "id": model,
            "object": "model",
            "created": created,
            "owned_by": flavour.owned_by,
        }
        if flavour.vllm:
            entry.update(
                root=model,
                parent=None,
                max_model_len=behaviour.max_model_len,
                permission=[_vllm_permission(created)],
            )
        data.append(entry)
    return {"object": "list", "data": data}


class ChunkRenderer:
    """Renders one stream's `chat.completion.chunk` events.

    Token chunks are pre-rendered around a sentinel once per (choice, kind), so streaming a
    token costs one small `orjson.dumps` of its text instead of a whole chunk.
    """

    __slots__ = ("_base", "_flavour", "_templates")

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        flavour: ChatFlavour,
        include_usage: bool,
    ) -> None:
        self._flavour = flavour
        self._base: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        if not flavour.vllm:
            self._base.update(service_tier="default", system_fingerprint="fp_emulated")
            if include_usage:
                # OpenAI marks every chunk `usage: null` until the final usage-only chunk.
                self._base["usage"] = None
        self._templates: dict[tuple[int, StepKind], tuple[bytes, bytes]] = {}

    def opening(self, index: int, reply: Reply) -> bytes:
        """The first chunk of a choice: the assistant role."""
        delta: dict[str, Any] = {"role": "assistant", "content": ""}
        if not self._flavour.vllm:
            delta["refusal"] = None
            if reply.tool_call is not None and not reply.content:
                delta["content"] = None
        return _event(self._chunk(index, delta))

    def token(self, index: int, kind: StepKind, text: str) -> bytes:
        """A chunk carrying one token of reasoning, content, or tool arguments."""
        parts = self._templates.get((index, kind))
        if parts is None:
            parts = self._templates[(index, kind)] = self._template(index, kind)
        return parts[0] + orjson.dumps(text) + parts[1]

    def tool_call_start(self, index: int, reply: Reply, arguments: str) -> bytes:
        """The chunk that opens a tool call: its id and name, with the first arguments slice."""
        call = reply.tool_call
        assert call is not None
        function = {"name": call.name, "arguments": arguments}
        delta = {
            "tool_calls": [{"index": 0, "id": call.id, "type": "function", "function": function}]
        }
        return _event(self._chunk(index, delta))

    def closing(self, index: int, reply: Reply) -> bytes:
        """The last chunk of a choice: an empty delta and the finish reason."""
        return _event(self._chunk(index, {}, reply.finish))

    def usage(self, usage: dict[str, Any]) -> bytes:
        """The final chunk `stream_options.include_usage` asks for: no choices, only usage."""
        return _event({**self._base, "choices": [], "usage": usage})

    def _chunk(
        self, index: int, delta: dict[str, Any], finish: str | None = None
    ) -> dict[str, Any]:
        choice: dict[str, Any] = {
            "index": index,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish,
        }
        if self._flavour.vllm:
            choice["stop_reason"] = None
        return {**self._base, "choices": [choice]}

    def _template(self, index: int, kind: StepKind) -> tuple[bytes, bytes]:
        delta: dict[str, Any]
        if kind == "tool":
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": _SENTINEL}}]}
        else:
            delta = {kind: _SENTINEL}
        head, _, tail = _event(self._chunk(index, delta)).partition(_SENTINEL_JSON)
        return head, tail


def _vllm_permission(created: int) -> dict[str, Any]:
    return {
        "id": "modelperm-emulated",
        "object": "model_permission",
        "created": created,
        "allow_create_engine": False,
        "allow_sampling": True,
        "allow_logprobs": True,
        "allow_search_indices": False,
        "allow_view": True,
        "allow_fine_tuning": False,
        "organization": "*",
        "group": None,
        "is_blocking": False,
    }


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _choice(index: int, reply: Reply, flavour: ChatFlavour) -> dict[str, Any]:
    content: str | None = reply.text
    if not reply.content and (reply.tool_call is not None or reply.reasoning):
        content = None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    tool_calls = []
    if reply.tool_call is not None:
        function = {"name": reply.tool_call.name, "arguments": reply.tool_call.arguments}
        tool_calls.append({"id": reply.tool_call.id, "type": "function", "function": function})
    if flavour.vllm:
        message.update(annotations=None, audio=None, function_call=None)
        message["reasoning"] = reply.reasoning_text if reply.reasoning else None
    else:
        message["annotations"] = []
    # Both omit tool_calls when there are none.
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice: dict[str, Any] = {
        "index": index,
        "message": message,
        "logprobs": None,
        "finish_reason": reply.finish,
    }
    if flavour.vllm:
        choice["stop_reason"] = None
    return choice


def _unknown_model(model: str, flavour: ChatFlavour) -> EmulatedError:
    if flavour.vllm:
        return EmulatedError(404, f"The model `{model}` does not exist.", param="model")
    return EmulatedError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    raw = body.get("tools")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise EmulatedError(400, "tools must be an array of function tools.", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(name, str) or not name:
            raise EmulatedError(
                400,
                f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ...}}}}.",
                param=f"tools[{i}]",
            )
        parameters = function.get("parameters")
        tools.append(ToolSpec(name, parameters if isinstance(parameters, Mapping) else {}))
    return tuple(tools)


def _tool_choice(
    body: Mapping[str, Any], tools: tuple[ToolSpec, ...]
) -> tuple[ToolChoice, str | None]:
    raw = body.get("tool_choice")
    if raw is None or raw == "auto":
        return "auto", None
    if raw in ("none", "required"):
        return ("none" if raw == "none" else "required"), None
    function = raw.get("function") if isinstance(raw, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str):
        raise EmulatedError(
            400,
            f"tool_choice={raw!r} is invalid; allowed: 'none', 'auto', 'required' or "
            "{'type': 'function', 'function': {'name': ...}}.",
            param="tool_choice",
        )
    if name not in {tool.name for tool in tools}:
        offered = [tool.name for tool in tools]
        raise EmulatedError(
            400,
            f"tool_choice names {name!r}, which is not among tools {offered}.",
            param="tool_choice",
        )
    return "named", name


def _response_format(body: Mapping[str, Any]) -> tuple[bool, Mapping[str, Any] | None]:
    fmt = optional_object(body, "response_format")
    kind = fmt.get("type", "text")
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return True, schema if isinstance(schema, Mapping) else {}
    raise EmulatedError(
        400,
        f"response_format.type={kind!r} is invalid; allowed: 'text', 'json_object', 'json_schema'.",
        param="response_format",
    )


def _thinking_enabled(body: Mapping[str, Any]) -> bool:
    # Qwen3 thinks unless the chat template is told not to.
    kwargs = optional_object(body, "chat_template_kwargs")
    return kwargs.get("enable_thinking") is not False
