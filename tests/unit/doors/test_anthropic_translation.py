"""The Messages door's translations, both ways, as pure functions (no server)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from router.classify.body import scan_body
from router.doors import resolve_shape
from router.doors.anthropic import (
    anthropic_error,
    anthropic_status,
    chat_to_message,
    error_from_openai,
    is_messages_request,
    messages_to_chat,
)
from router.doors.anthropic_stream import ChatToMessagesStream
from router.doors.anthropic_upstream import (
    MessagesToChatStream,
    chat_to_messages,
    message_to_chat,
)
from router.errors import InvalidRequest


def base(**extra: Any) -> dict[str, Any]:
    return {"model": "auto", "max_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}], **extra}


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "auto", "messages": []}, "max_tokens"),
    (base(max_tokens=0), "max_tokens"),
    (base(max_tokens=True), "max_tokens"),
    ({"max_tokens": 5, "messages": []}, "model"),
    (base(messages="hi"), "messages"),
    (base(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
    (base(messages=[{"role": "user", "content": [{"type": "audio"}]}]),
     "messages.0.content.0.type"),
    (base(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "ftp"}}]}]),
     "messages.0.content.0.source"),
    (base(temperature=1.5), "temperature"),
    (base(top_k=-1), "top_k"),
    (base(stop_sequences="END"), "stop_sequences"),
    (base(tools=[{"name": "x"}]), "tools.0.input_schema"),
    (base(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "tools.0.type"),
    (base(tool_choice={"type": "sometimes"}), "tool_choice"),
    (base(thinking={"type": "enabled", "budget_tokens": 10}), "thinking"),
    (base(system=[{"type": "image"}]), "system.0"),
    (base(stream="yes"), "stream"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        messages_to_chat(body)
    assert info.value.param == param
    assert param in info.value.message


def test_a_full_request_translates() -> None:
    chat = messages_to_chat(base(
        system="Be brief.", temperature=0.2, top_p=0.5, top_k=3, stop_sequences=["X"],
        stream=True, metadata={"user_id": "u"}, tool_choice={"type": "any",
                                                             "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 20000},
        tools=[{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
        messages=[
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": [{"type": "text", "text": "A"},
                                              {"type": "tool_use", "id": "t1", "name": "f",
                                               "input": {"a": 1}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "is_error": True,
                 "content": [{"type": "text", "text": "boom"}]},
                {"type": "text", "text": "and?"}]},
            {"role": "system", "content": [{"type": "text", "text": "mid"}]},
        ]))
    assert chat == {
        "model": "auto", "max_tokens": 10, "temperature": 0.2, "top_p": 0.5, "top_k": 3,
        "stop": ["X"], "stream": True, "stream_options": {"include_usage": True}, "user": "u",
        "tool_choice": "required", "parallel_tool_calls": False, "reasoning_effort": "high",
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                    "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A", "tool_calls": [
                {"id": "t1", "type": "function",
                 "function": {"name": "f", "arguments": '{"a": 1}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "Error: boom"},
            {"role": "user", "content": [{"type": "text", "text": "and?"}]},
            {"role": "system", "content": "mid"},
        ],
    }


@pytest.mark.parametrize(("thinking", "effort"), [
    ({"type": "enabled", "budget_tokens": 1024}, "low"),
    ({"type": "enabled", "budget_tokens": 8000}, "medium"),
    ({"type": "enabled", "budget_tokens": 16384}, "high"),
    ({"type": "adaptive"}, "medium"),
    ({"type": "disabled"}, None),
])
def test_thinking_budget_becomes_an_effort(thinking: dict[str, Any], effort: str | None) -> None:
    assert messages_to_chat(base(thinking=thinking)).get("reasoning_effort") == effort


def test_output_config_effort_wins() -> None:
    chat = messages_to_chat(base(thinking={"type": "adaptive"}, output_config={"effort": "max"}))
    assert chat["reasoning_effort"] == "high"


def test_documents_become_files_or_text() -> None:
    data = base64.b64encode(b"%PDF-1.4").decode()
    chat = messages_to_chat(base(messages=[{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": data}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain",
                                        "data": "plain words"}}]}]))
    parts = chat["messages"][0]["content"]
    assert parts[0] == {"type": "file",
                        "file": {"file_data": "data:application/pdf;base64," + data}}
    assert parts[1] == {"type": "text", "text": "plain words"}


def test_chat_completion_becomes_a_message() -> None:
    completion = {
        "id": "chatcmpl-1", "model": "qwen", "usage": {
            "prompt_tokens": 7, "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 2}},
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "ok", "reasoning_content": "think",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f",
                                                              "arguments": '{"x": 1}'}},
                {"id": "c2", "type": "function", "function": {"name": "g",
                                                              "arguments": "not json"}}]}}]}
    message = chat_to_message(completion)
    assert message["id"] == "msg_chatcmpl-1" and message["model"] == "qwen"
    assert message["content"] == [
        {"type": "thinking", "thinking": "think", "signature": ""},
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "c2", "name": "g", "input": {"_arguments": "not json"}},
    ]
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"] == {"input_tokens": 7, "output_tokens": 3,
                                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2}


@pytest.mark.parametrize(("finish", "matched", "reason", "sequence"), [
    ("stop", None, "end_turn", None),
    ("stop", "END", "stop_sequence", "END"),
    ("stop", "OTHER", "end_turn", None),
    ("length", None, "max_tokens", None),
    ("tool_calls", None, "tool_use", None),
    ("content_filter", None, "refusal", None),
    (None, None, "end_turn", None),
])
def test_stop_reasons(finish: str | None, matched: str | None, reason: str,
                      sequence: str | None) -> None:
    completion = {"choices": [{"finish_reason": finish, "stop_reason": matched,
                               "message": {"content": "x"}}]}
    message = chat_to_message(completion, ["END"])
    assert (message["stop_reason"], message["stop_sequence"]) == (reason, sequence)


def test_untrusted_completion_never_crashes() -> None:
    for junk in ({}, {"choices": "x"}, {"choices": [None]}, {"choices": [{"message": 5}]},
                 {"usage": {"prompt_tokens": -3, "completion_tokens": "2"}}):
        message = chat_to_message(junk)
        assert message["content"] == [{"type": "text", "text": ""}]
        assert message["usage"]["input_tokens"] == 0


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    obj = {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": delta,
                                                  "finish_reason": finish}], **extra}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            out.append((name.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


def test_stream_translation_is_anthropics_sequence() -> None:
    translator = ChatToMessagesStream(5, ["END"], 1 << 20)
    raw = b"".join(translator.feed(part) for part in [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "hm"}),
        chunk({"content": "Hel"}) + chunk({"content": "lo"}),
        chunk({"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "f",
                                                                     "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]})[:20],
    ])
    raw += translator.feed(chunk({"tool_calls": [{"index": 0, "function": {
        "arguments": '{"a"'}}]})[20:])
    raw += translator.feed(chunk({}, "tool_calls"))
    raw += translator.feed(b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":9,'
                           b'"completion_tokens":4}}\n\ndata: [DONE]\n\n')
    got = events(raw)
    assert [(n, d.get("index"), (d.get("delta") or d.get("content_block") or {}).get("type"))
            for n, d in got] == [
        ("message_start", None, None), ("ping", None, None),
        ("content_block_start", 0, "thinking"), ("content_block_delta", 0, "thinking_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"), ("content_block_delta", 1, "text_delta"),
        ("content_block_delta", 1, "text_delta"), ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"), ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None), ("message_delta", None, None),
        ("message_stop", None, None)]
    assert got[0][1]["message"]["usage"]["input_tokens"] == 5
    assert got[9][1]["content_block"] == {"type": "tool_use", "id": "t1", "name": "f",
                                          "input": {}}
    assert got[12][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert got[12][1]["usage"] == {"output_tokens": 4, "input_tokens": 9}
    assert translator.finished


def test_stream_error_event_ends_the_stream() -> None:
    translator = ChatToMessagesStream(0, None, 1 << 20)
    raw = translator.feed(chunk({"content": "a"}) + b'data: {"error": {"message": "cut"}}\n\n'
                          + chunk({"content": "late"}))
    got = events(raw)
    assert got[-1] == ("error", {"type": "error", "error": {"type": "api_error",
                                                            "message": "cut"}})
    assert all(d.get("delta", {}).get("text") != "late" for _, d in got)


def test_stream_without_done_ends_with_an_error() -> None:
    async def chunks() -> Any:
        yield chunk({"content": "a"})

    async def run() -> bytes:
        translator = ChatToMessagesStream(0, None, 1 << 20)
        return b"".join([part async for part in translator.translate(chunks())])

    import asyncio

    got = events(asyncio.run(run()))
    assert got[-1][0] == "error"


def test_errors_in_anthropics_shape() -> None:
    assert anthropic_status(503) == 529 and anthropic_status(422) == 400
    assert anthropic_status(429) == 429
    assert anthropic_error(529, "busy", "jr-1") == {
        "type": "error", "error": {"type": "overloaded_error", "message": "busy"},
        "request_id": "jr-1"}
    assert anthropic_error(502, "x")["error"]["type"] == "api_error"
    assert anthropic_error(413, "x")["error"]["type"] == "request_too_large"
    converted = orjson.loads(error_from_openai(
        403, b'{"error": {"message": "no", "type": "permission_error", "code": "c"}}', "jr-2"))
    assert converted == {"type": "error", "error": {"type": "permission_error",
                                                    "message": "no", "code": "c"},
                         "request_id": "jr-2"}
    upstream = b'{"type": "error", "error": {"type": "invalid_request_error", "message": "m"}}'
    assert orjson.loads(error_from_openai(400, upstream, "jr-3"))["error"]["message"] == "m"
    assert orjson.loads(error_from_openai(500, b"<html>", None))["error"]["type"] == "api_error"


def test_shape_is_registered_and_detected() -> None:
    shape = resolve_shape({}, "messages")
    assert resolve_shape(base(system="s"), None).name == "messages"
    assert shape.detect(base(system="s"))
    assert shape.detect(base(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": "x"}]}]))
    assert not is_messages_request({"model": "auto",
                                    "messages": [{"role": "user", "content": "hi"}]})
    assert shape.to_chat(base())["messages"] == [{"role": "user", "content": "Hi"}]


# -- chat -> Messages, for backend: anthropic models asked through the chat door ---------------


def test_chat_request_becomes_messages() -> None:
    body = chat_to_messages({
        "model": "claude", "temperature": 1.7, "stop": "END", "user": "u",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object"}}}], "tool_choice": "required", "parallel_tool_calls": False,
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f",
                                                              "arguments": '{"a": 1}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "user", "content": "next"}]})
    assert body == {
        "model": "claude", "system": "S", "max_tokens": 4096, "temperature": 1.0,
        "stop_sequences": ["END"], "metadata": {"user_id": "u"},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "AAAA"}}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "r1"},
                {"type": "text", "text": "next"}]}]}


def test_message_becomes_chat_completion() -> None:
    completion = message_to_chat({
        "id": "msg_1", "model": "claude", "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "cache_read_input_tokens": 2, "output_tokens": 4},
        "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "hi"},
                    {"type": "tool_use", "id": "u1", "name": "f", "input": {"a": 1}}]})
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"] == {
        "role": "assistant", "content": "hi", "reasoning_content": "t",
        "tool_calls": [{"id": "u1", "type": "function",
                        "function": {"name": "f", "arguments": '{"a":1}'}}]}
    assert completion["usage"] == {"prompt_tokens": 5, "completion_tokens": 4,
                                   "total_tokens": 9}


def test_messages_events_become_chat_chunks() -> None:
    stream = MessagesToChatStream(created=1)
    out = [stream.feed(e) for e in (
        {"type": "message_start", "message": {"id": "m1", "model": "claude",
                                              "usage": {"input_tokens": 4}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",
                                                              "text": "Hi"}},
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "u1", "name": "f"}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 6}},
        {"type": "ping"})]
    deltas = [orjson.loads(o[6:])["choices"][0] for o in out if o is not None]
    assert [d["delta"] for d in deltas] == [
        {"role": "assistant", "content": ""}, {"content": "Hi"},
        {"tool_calls": [{"index": 0, "id": "u1", "type": "function",
                         "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}, {}]
    assert deltas[-1]["finish_reason"] == "tool_calls"
    usage = orjson.loads(stream.usage_chunk()[6:])["usage"]
    assert usage == {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}


# -- the egress guard's scan sees Anthropic's blocks ------------------------------------------


def test_scan_counts_anthropic_sources() -> None:
    text = base64.b64encode(b"Contact jane.doe@example.com").decode()
    pdf = base64.b64encode(b"%PDF-1.4\n" + bytes(range(256))).decode()
    scan = scan_body({"model": "claude", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "document", "source": {"type": "base64", "media_type": "text/plain",
                                        "data": text}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": pdf}}]}]})
    assert scan.unscannable == {"image": 2, "file": 1}
    assert scan.findings.get("email") == 1


def test_the_guard_keeps_anthropic_images_from_unscannable_local_routes() -> None:
    from router.gateway.egress import EgressGuard

    body = {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "text", "text": "what is this?"}]}]}
    refusal = EgressGuard().check(body, unscannable_local=True)
    assert refusal is not None and refusal.unscannable == {"image": 1}
    assert EgressGuard().check(body, unscannable_local=False) is None
