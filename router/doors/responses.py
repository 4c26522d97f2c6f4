"""The OpenAI Responses door's request side: a Responses request as a chat-completions body
(the answer side is `responses_answer`, the stream `responses_stream`).

Stateless: nothing is stored, so `store` is always answered `false` and anything that needs a
stored response or conversation (`previous_response_id`, `conversation`, `item_reference`,
`background`) is refused with a 400 naming the field. Every backend is reached through chat
completions, so one execution path serves every door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from router.doors import register_shape
from router.errors import InvalidRequest
from router.protocol import validation_error

RESPONSES = "responses"

# Never copied as they are: translated below, or with no chat-completions counterpart.
_DROPPED = frozenset({
    "store", "include", "client_metadata", "prompt_cache_retention", "truncation",
    "stream_options", "reasoning", "text", "max_output_tokens", "input", "instructions",
    "tools", "tool_choice", "previous_response_id", "conversation", "background", "prompt",
    "max_tool_calls", "top_logprobs", "metadata", "parallel_tool_calls"})
# Copied as they are: chat completions has the same field with the same meaning. Not
# `metadata`: it labels a stored response, and OpenAI's chat completions refuses it without
# `store: true`, which this gateway never sends; the answer echoes it.
_COPIED = ("model", "temperature", "top_p", "user", "service_tier", "safety_identifier",
           "prompt_cache_key")
# Stateful or hosted features: each is refused with its reason.
_STATEFUL = {
    "previous_response_id": "this gateway keeps no responses (it is stateless), so a "
                            "response cannot continue an earlier one; send the whole "
                            "conversation in `input` instead",
    "conversation": "this gateway keeps no conversations (it is stateless); send the whole "
                    "conversation in `input` instead",
    "prompt": "this gateway keeps no stored prompts; send the prompt in `instructions` "
              "and `input`",
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class TextConfig(_Open):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None


class ResponsesRequest(_Open):
    """What the Responses door validates before translating; unknown fields pass through to
    the chosen model, as on the chat door."""

    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: StrictBool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    metadata: dict[str, str] | None = None
    user: str | None = None
    stream: StrictBool = False
    store: StrictBool | None = None
    background: StrictBool | None = None


_REQUEST = TypeAdapter(ResponsesRequest)


@dataclass(frozen=True, slots=True)
class Translated:
    """A Responses request and the chat-completions body that serves it."""

    request: ResponsesRequest
    chat: dict[str, Any]


def parse_request(data: Any) -> ResponsesRequest:
    """Validate a parsed body; refuse what a stateless gateway cannot do, naming the field."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            f"the request body must be a JSON object, got {type(data).__name__}")
    for field, reason in _STATEFUL.items():
        if data.get(field) is not None:
            raise InvalidRequest(f"{field}: {reason}", param=field,
                                 code="unsupported_parameter")
    if "input" in data and not isinstance(data["input"], str | list):
        raise InvalidRequest(
            f"input: must be a string or a list of input items, got "
            f"{type(data['input']).__name__}", param="input")
    try:
        request = _REQUEST.validate_python(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if request.background:
        raise InvalidRequest(
            "background: background responses need a response store, which this stateless "
            "gateway does not keep; send the request without background (stream it instead)",
            param="background", code="unsupported_parameter")
    return request


def translate_request(data: Any) -> Translated:
    """The chat-completions body for a Responses request (raises InvalidRequest)."""
    request = parse_request(data)
    chat: dict[str, Any] = {k: v for k, v in data.items()
                            if k not in _DROPPED and k not in _COPIED and k != "stream"}
    for key in _COPIED:
        if data.get(key) is not None:
            chat[key] = data[key]
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    if isinstance(request.input, str):
        messages.append({"role": "user", "content": request.input})
    else:
        messages.extend(input_messages(request.input))
    if not messages:
        raise InvalidRequest("input: holds no message; send at least one input item",
                             param="input")
    chat["messages"] = messages
    if request.tools:
        # Only with tools: OpenAI refuses tool_choice and parallel_tool_calls without them.
        chat["tools"] = chat_tools(request.tools)
        if request.tool_choice is not None:
            chat["tool_choice"] = chat_tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            chat["parallel_tool_calls"] = request.parallel_tool_calls
    elif request.tool_choice is not None:
        chat_tool_choice(request.tool_choice)  # still refused when it is malformed
    if request.max_output_tokens is not None:
        chat["max_completion_tokens"] = request.max_output_tokens
    if request.reasoning is not None and request.reasoning.effort is not None:
        chat["reasoning_effort"] = request.reasoning.effort
    if request.text is not None:
        if request.text.format is not None:
            chat["response_format"] = chat_response_format(request.text.format)
        if request.text.verbosity is not None:
            chat["verbosity"] = request.text.verbosity
    if request.stream:
        chat["stream"] = True
        # The usage chunk fills the `usage` of response.completed.
        chat["stream_options"] = {"include_usage": True}
    return Translated(request, chat)


def input_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input items as chat messages: a function call joins the assistant message before it
    (chat completions wants calls in one assistant message, followed by their results)."""
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        kind = item.get("type", "message" if "role" in item else None)
        where = f"input[{i}]"
        if kind == "message":
            messages.append(chat_message(item, where))
        elif kind == "function_call":
            name = _text_field(item, "name", where)
            if isinstance(item.get("namespace"), str) and item["namespace"]:
                name = item["namespace"] + NAMESPACE_SEPARATOR + name
            call = {"id": _text_field(item, "call_id", where), "type": "function",
                    "function": {"name": name,
                                 "arguments": _text_field(item, "arguments", where)}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                if last.get("content") == "":
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": _text_field(item, "call_id", where),
                             "content": _output_text(item.get("output"), where)})
        elif kind == "reasoning":
            # Chat completions has no field for earlier reasoning; models think afresh.
            continue
        elif kind == "item_reference":
            raise InvalidRequest(
                f"{where}: item_reference needs stored items, which this stateless gateway "
                "does not keep; send the item itself", param=where,
                code="unsupported_parameter")
        else:
            raise InvalidRequest(
                f"{where}.type: {kind!r} is not an input item this gateway accepts; use "
                "message, function_call, function_call_output or reasoning",
                param=f"{where}.type")
    return messages


_ROLES = ("user", "system", "developer", "assistant")


def chat_message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"{where}.role: {role!r} is not a role; use one of: "
                             f"{', '.join(_ROLES)}", param=f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}.content: must be a string or a list of content parts",
                             param=f"{where}.content")
    parts = [chat_part(part, f"{where}.content[{j}]") for j, part in enumerate(content)]
    if role == "assistant":
        # Earlier answers: chat completions takes an assistant's content as text.
        return {"role": role, "content": "".join(str(p.get("text", "")) for p in parts)}
    return {"role": role, "content": parts}


def chat_part(part: Any, where: str) -> dict[str, Any]:
    """One Responses content part as a chat content part."""
    if not isinstance(part, dict):
        raise InvalidRequest(f"{where}: must be an object", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": _text_field(part, "text", where)}
    if kind == "refusal":
        return {"type": "text", "text": _text_field(part, "refusal", where)}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(
                f"{where}.image_url: an image needs image_url (a URL or a data: URL); "
                "file_id needs a file store, which this gateway does not keep",
                param=f"{where}.image_url")
        image: dict[str, Any] = {"url": url}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        file = {k: part[k] for k in ("file_data", "filename", "file_id") if part.get(k)}
        if "file_data" not in file and "file_id" not in file:
            raise InvalidRequest(f"{where}: an input_file needs file_data (or file_id); "
                                 "file_url is not supported", param=f"{where}.file_data")
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"{where}.type: {kind!r} is not a content part this gateway accepts; use input_text, "
        "input_image or input_file", param=f"{where}.type")


# A namespaced function reaches chat completions as one flat name, `namespace__name`.
NAMESPACE_SEPARATOR = "__"


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools as chat tools; a `namespace` tool's functions are flattened into it."""
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if tool.get("type") != "namespace":
            out.append(chat_tool(tool, f"tools[{i}]"))
            continue
        namespace, members = tool.get("name"), tool.get("tools")
        if not isinstance(namespace, str) or not namespace or not isinstance(members, list):
            raise InvalidRequest(f"tools[{i}]: a namespace needs a name and a list of tools",
                                 param=f"tools[{i}]")
        for j, member in enumerate(members):
            if not isinstance(member, dict):
                raise InvalidRequest(f"tools[{i}].tools[{j}]: must be an object",
                                     param=f"tools[{i}].tools[{j}]")
            flat = chat_tool(member, f"tools[{i}].tools[{j}]")
            flat["function"]["name"] = namespace + NAMESPACE_SEPARATOR + member["name"]
            out.append(flat)
    return out


def namespaces(tools: list[dict[str, Any]] | None) -> frozenset[str]:
    return frozenset(str(t.get("name")) for t in tools or () if t.get("type") == "namespace")


def split_name(name: str, spaces: frozenset[str]) -> tuple[str, str | None]:
    """A flattened tool name back as (name, namespace) when it names a declared namespace."""
    head, sep, tail = name.partition(NAMESPACE_SEPARATOR)
    if sep and head in spaces:
        return tail, head
    return name, None


def chat_tool(tool: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind != "function":
        raise InvalidRequest(
            f"{where}.type: {kind!r} is a built-in tool this gateway does not run; only "
            "function tools (and namespaces of them) are supported: run web search, file "
            "search or computer use yourself and declare them as functions",
            param=f"{where}.type", code="unsupported_tool")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{where}.name: a function tool needs a name",
                             param=f"{where}.name")
    function = {k: tool[k] for k in ("name", "description", "parameters", "strict")
                if tool.get(k) is not None}
    return {"type": "function", "function": function}


def chat_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        raise InvalidRequest(f"tool_choice: {choice!r} is not auto, none or required",
                             param="tool_choice")
    if choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest(
        f"tool_choice: {choice.get('type')!r} is not supported; use auto, none, required or "
        '{"type": "function", "name": ...}', param="tool_choice", code="unsupported_tool")


def chat_response_format(fmt: TextFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    if fmt.name is None or fmt.schema_ is None:
        raise InvalidRequest("text.format: json_schema needs name and schema",
                             param="text.format")
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    if fmt.description is not None:
        schema["description"] = fmt.description
    return {"type": "json_schema", "json_schema": schema}


def _text_field(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}.{key}: must be a string", param=f"{where}.{key}")
    return value


def _output_text(output: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        parts = [chat_part(p, f"{where}.output[{j}]") for j, p in enumerate(output)]
        if all(p["type"] == "text" for p in parts):
            return parts
    raise InvalidRequest(f"{where}.output: must be a string or a list of input_text parts",
                         param=f"{where}.output")


def is_responses(data: Mapping[str, Any]) -> bool:
    """A Responses body: `input` as text or items, no `messages`, nothing only embeddings
    send. A bare `{"model", "input": "text"}` is claimed by embeddings too: explain then asks
    for `?shape=`."""
    if "input" not in data or "messages" in data:
        return False
    if "encoding_format" in data or "dimensions" in data:
        return False
    value = data["input"]
    return isinstance(value, str) or (
        isinstance(value, list) and any(isinstance(item, dict) for item in value))


def _to_chat(data: dict[str, Any]) -> dict[str, Any]:
    return translate_request(data).chat


register_shape(RESPONSES, is_responses, _to_chat)
