"""The Responses door's translation, both ways, checked against the `openai` SDK's own types."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from router.doors import resolve_shape
from router.doors.responses import parse_request, translate_request
from router.doors.responses_answer import translate_completion
from router.doors.responses_stream import StreamTranslator
from router.errors import InvalidRequest, UpstreamError

EVENT = TypeAdapter(ResponseStreamEvent)
REQUEST_ID = "jr-0123456789abcdef"


def chat_of(body: dict[str, Any]) -> dict[str, Any]:
    return translate_request({"model": "auto", **body}).chat


@pytest.mark.parametrize(("body", "expected"), [
    ({"input": "hi"}, {"messages": [{"role": "user", "content": "hi"}]}),
    ({"input": "hi", "instructions": "be brief"},
     {"messages": [{"role": "system", "content": "be brief"},
                   {"role": "user", "content": "hi"}]}),
    ({"input": "hi", "max_output_tokens": 9, "reasoning": {"effort": "high"}},
     {"max_completion_tokens": 9, "reasoning_effort": "high"}),
    ({"input": "hi", "text": {"format": {"type": "json_object"}}},
     {"response_format": {"type": "json_object"}}),
    ({"input": "hi", "stream": True},
     {"stream": True, "stream_options": {"include_usage": True}}),
    ({"input": "hi", "user": "u1", "top_p": 0.5}, {"user": "u1", "top_p": 0.5}),
    ({"input": "hi", "tools": [{"type": "function", "name": "f"}], "tool_choice": "required",
      "parallel_tool_calls": False},
     {"tool_choice": "required", "parallel_tool_calls": False}),
    # unknown fields go to the chosen model, as on the chat door
    ({"input": "hi", "seed": 7}, {"seed": 7}),
])
def test_request_fields(body: dict[str, Any], expected: dict[str, Any]) -> None:
    chat = chat_of(body)
    for key, value in expected.items():
        assert chat[key] == value
    for dropped in ("input", "instructions", "store", "text", "reasoning", "max_output_tokens"):
        assert dropped not in chat


def test_metadata_and_tool_options_without_tools_stay_here() -> None:
    # OpenAI's chat completions refuses metadata without store, and tool options without tools.
    chat = chat_of({"input": "hi", "metadata": {"a": "b"}, "tool_choice": "auto",
                    "parallel_tool_calls": True})
    assert not {"metadata", "tool_choice", "parallel_tool_calls"} & set(chat)


def test_store_and_include_never_reach_the_upstream() -> None:
    chat = chat_of({"input": "hi", "store": True, "include": ["reasoning.encrypted_content"],
                    "truncation": "auto"})
    assert not {"store", "include", "truncation"} & set(chat)


def test_history_items_become_chat_messages() -> None:
    chat = chat_of({"input": [
        {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [],
         "content": [{"type": "reasoning_text", "text": "hmm"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "w", "arguments": "{\"x\":1}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sun"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "rain"}]},
    ]})
    assert chat["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "w", "arguments": "{\"x\":1}"}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "sun"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "rain"}]},
    ]


def test_function_tools_and_choice() -> None:
    chat = chat_of({"input": "hi", "tool_choice": {"type": "function", "name": "f"},
                    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"},
                               "strict": True}]})
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object"}, "strict": True}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}


def test_json_schema_format() -> None:
    chat = chat_of({"input": "hi", "text": {"format": {
        "type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": True}}})
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "a", "schema": {"type": "object"}, "strict": True}}


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
    ({"input": "hi", "conversation": "conv_1"}, "conversation"),
    ({"input": "hi", "tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
    ({"input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
    ({"input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format"),
    ({"input": "hi", "temperature": 3}, "temperature"),
    ({"input": []}, "input"),
    ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
     "input[0].content[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "input[0].content[0].image_url"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     "input[0].call_id"),
    ({}, "input"),
])
def test_refusals_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        translate_request({"model": "auto", **body})
    assert info.value.param == param, info.value.message


def test_not_an_object() -> None:
    with pytest.raises(InvalidRequest):
        parse_request(["input"])


def _completion(message: dict[str, Any], finish: str = "stop",
                usage: Any = None) -> bytes:
    return orjson.dumps({"id": "c", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage if usage is not None else {
            "prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
            "completion_tokens_details": {"reasoning_tokens": 2}}})


def answer(body: bytes, request: dict[str, Any] | None = None) -> Response:
    parsed = parse_request({"model": "auto", "input": "hi", **(request or {})})
    return Response.model_validate_json(translate_completion(body, parsed, REQUEST_ID))


def test_completion_becomes_a_response() -> None:
    response = answer(_completion({"content": "hello", "reasoning_content": "think"}))
    assert response.id == "resp_0123456789abcdef" and response.model == "m"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == "hello"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens,
            response.usage.total_tokens) == (5, 7, 12)
    assert response.usage.output_tokens_details.reasoning_tokens == 2


def test_tool_calls_become_function_call_items() -> None:
    response = answer(_completion({"content": None, "tool_calls": [
        {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        "tool_calls"))
    item = response.output[0]
    assert item.type == "function_call"
    assert (item.call_id, item.name, item.arguments) == ("call_9", "f", "{}")


def test_length_finish_is_incomplete() -> None:
    response = answer(_completion({"content": "cut"}, "length"))
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize("usage", [{"prompt_tokens": "5"}, {"prompt_tokens": -1}, "lots"])
def test_invalid_upstream_usage_is_dropped_not_fatal(usage: Any) -> None:
    assert answer(_completion({"content": "x"}, usage=usage)).usage is None


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"choices": []}',
                                  b'{"choices": [{"message": "x"}]}', b"[1]"])
def test_an_answer_that_is_not_a_completion_is_a_502(body: bytes) -> None:
    with pytest.raises(UpstreamError):
        answer(body)


# -- streams ---------------------------------------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b"data: " + orjson.dumps({"model": "m", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}]}) + b"\n\n"


USAGE = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'


def run(pieces: list[bytes], request: dict[str, Any] | None = None) -> list[Any]:
    """Every event the translator writes, parsed by the SDK's own event union."""
    parsed = parse_request({"model": "auto", "input": "hi", **(request or {})})
    translator = StreamTranslator(parsed, REQUEST_ID)
    raw = translator.start() + b"".join(translator.feed(p) for p in pieces) + translator.end()
    events = []
    for block in raw.split(b"\n\n"):
        if not block:
            continue
        name, data = block.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: ")
        event = EVENT.validate_json(data[6:])
        assert event.type == name[7:].decode()
        events.append(event)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


def test_reasoning_then_text_then_usage() -> None:
    events = run([_chunk({"role": "assistant", "content": ""}),
                  _chunk({"reasoning_content": "hm"}), _chunk({"reasoning": "m"}),
                  _chunk({"content": "Hel"}) + _chunk({"content": "lo"}),
                  _chunk({}, "stop"), USAGE, b"data: [DONE]\n\n"])
    assert [e.type for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.reasoning_text.delta", "response.reasoning_text.delta",
        "response.reasoning_text.done", "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    final = events[-1].response
    assert final.output_text == "Hello" and final.model == "m"
    assert final.usage is not None and final.usage.total_tokens == 7
    assert [item.type for item in final.output] == ["reasoning", "message"]


def test_parallel_tool_calls_stream_as_items() -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return {"tool_calls": [{"index": index, **fields}]}

    events = run([
        _chunk({"content": "Checking."}),
        _chunk(call(0, id="c0", type="function", function={"name": "a", "arguments": "{\"x\""})),
        _chunk(call(1, id="c1", type="function", function={"name": "b", "arguments": ""})),
        _chunk(call(0, function={"arguments": ":1}"})),
        _chunk(call(1, function={"arguments": "{}"})),
        _chunk({}, "tool_calls"), b"data: [DONE]\n\n"])
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [(e.name, e.arguments) for e in done] == [("a", "{\"x\":1}"), ("b", "{}")]
    final = events[-1].response
    assert [item.type for item in final.output] == ["message", "function_call", "function_call"]
    assert [getattr(item, "call_id", None) for item in final.output] == [None, "c0", "c1"]
    added = [e.output_index for e in events if e.type == "response.output_item.added"]
    assert added == [0, 1, 2]


def test_length_finish_streams_incomplete() -> None:
    events = run([_chunk({"content": "cut"}), _chunk({}, "length"), b"data: [DONE]\n\n"])
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.output[0].status == "incomplete"


@pytest.mark.parametrize("pieces", [
    [_chunk({"content": "par"})],  # no [DONE]: the upstream broke off
    [_chunk({"content": "par"}), b'data: {"error": {"message": "boom"}}\n\n'],
    [b"data: {not json\n\n"],
])
def test_broken_streams_fail(pieces: list[bytes]) -> None:
    events = run(pieces)
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.status == "failed"
    assert events[-1].response.error is not None


def test_events_split_across_reads_are_joined() -> None:
    whole = _chunk({"content": "Hello"}) + _chunk({}, "stop") + b"data: [DONE]\n\n"
    events = run([whole[:7], whole[7:30], whole[30:]])
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello"


def test_resolve_shape() -> None:
    assert resolve_shape({"messages": []}, None).name == "chat"
    assert resolve_shape({"model": "a", "input": [{"role": "user", "content": "x"}]},
                         None).name == "responses"
    assert resolve_shape({"input": "x"}, "chat").name == "chat"
    with pytest.raises(InvalidRequest):
        resolve_shape({}, "nope")


NAMESPACE = {"type": "namespace", "name": "agents", "description": "sub-agents", "tools": [
    {"type": "function", "name": "spawn", "parameters": {"type": "object"}}]}


def test_namespaced_tools_are_flattened_and_split_back() -> None:
    chat = chat_of({"tools": [NAMESPACE], "input": [
        {"type": "function_call", "call_id": "c1", "name": "spawn", "namespace": "agents",
         "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"}]})
    assert chat["tools"][0]["function"]["name"] == "agents__spawn"
    assert chat["messages"][0]["tool_calls"][0]["function"]["name"] == "agents__spawn"
    call = {"id": "c2", "type": "function",
            "function": {"name": "agents__spawn", "arguments": "{}"}}
    item = answer(_completion({"content": None, "tool_calls": [call]}, "tool_calls"),
                  {"tools": [NAMESPACE]}).output[0]
    assert item.type == "function_call"
    assert (item.name, item.namespace) == ("spawn", "agents")
    events = run([_chunk({"tool_calls": [{"index": 0, **call}]}), _chunk({}, "tool_calls"),
                  b"data: [DONE]\n\n"], {"tools": [NAMESPACE]})
    streamed = events[-1].response.output[0]
    assert (streamed.name, streamed.namespace) == ("spawn", "agents")


def test_a_function_named_like_a_namespace_is_left_alone() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "other__x", "arguments": "{}"}}
    item = answer(_completion({"content": None, "tool_calls": [call]}, "tool_calls"),
                  {"tools": [NAMESPACE]}).output[0]
    assert item.type == "function_call" and (item.name, item.namespace) == ("other__x", None)


def test_two_claimants_make_explain_ask_for_the_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    import router.doors as doors

    monkeypatch.setitem(doors._SHAPES, "other",
                        doors.Shape("other", lambda data: "input" in data, dict))
    with pytest.raises(InvalidRequest) as info:
        resolve_shape({"model": "a", "input": "x"}, None)
    assert info.value.param == "shape" and "?shape=" in info.value.message
    assert "other" in info.value.message and "responses" in info.value.message


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("prompt_cache_key", "k1", True), ("safety_identifier", "s1", True),
    ("client_metadata", {"a": "b"}, False), ("include", ["x"], False),
])
def test_passed_and_dropped_fields(field: str, value: Any, kept: bool) -> None:
    chat = chat_of({"input": "hi", field: value})
    assert (chat.get(field) == value) is kept and (field in chat) is kept


def test_stored_prompts_are_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        translate_request({"model": "auto", "input": "hi", "prompt": {"id": "pmpt_1"}})
    assert info.value.param == "prompt"


def test_a_stream_past_the_output_bound_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import router.doors.responses_stream as stream

    monkeypatch.setattr(stream, "MAX_OUTPUT_CHARS", 8)
    events = run([_chunk({"content": "12345"}), _chunk({"content": "67890"}),
                  _chunk({}, "stop"), b"data: [DONE]\n\n"])
    assert events[-1].type == "response.failed"
    assert "passed 8 characters" in events[-1].response.error.message
