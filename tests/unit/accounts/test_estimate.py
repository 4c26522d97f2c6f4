"""The reservation's token bound never counts fewer tokens than a byte-level tokenizer could."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.accounts.estimate import (
    PER_MESSAGE_TOKENS,
    PER_REQUEST_TOKENS,
    TOOLS_TEMPLATE_TOKENS,
    token_bound,
)


def bound(data: dict[str, Any], default_output: int = 4096, image_tokens: int = 2500) -> Any:
    return token_bound(data, default_output_tokens=default_output, image_tokens=image_tokens)


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


@pytest.mark.parametrize(
    ("text", "utf8_bytes"),
    [("Say hello.", 10), ("héllo", 6), ("日本語", 9), ("🙂🙂", 8), ("", 0)],
)
def test_prompt_counts_every_utf8_byte_plus_overheads(text: str, utf8_bytes: int) -> None:
    got = bound({"messages": [user(text)]})
    # The role is sent too ("user": 4 bytes).
    assert got.prompt_tokens == PER_REQUEST_TOKENS + PER_MESSAGE_TOKENS + 4 + utf8_bytes


def test_bound_is_above_what_the_estimate_undercounted() -> None:
    # The incident: "Say hello." estimated at 9 tokens, billed 12.
    assert bound({"messages": [user("Say hello.")]}).prompt_tokens >= 12


def test_every_message_and_part_counts() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        user([{"type": "text", "text": "abc"}, {"type": "text", "text": "de"}]),
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
    ]
    got = bound({"messages": messages}).prompt_tokens
    strings = ["system", "Be brief.", "user", "text", "abc", "text", "de", "assistant",
               "c1", "function", "f", "{\"x\": 1}"]
    assert got == PER_REQUEST_TOKENS + 3 * PER_MESSAGE_TOKENS + sum(len(s) for s in strings)


def test_images_cost_their_allowance_not_their_url_bytes() -> None:
    huge = "data:image/png;base64," + "A" * 100_000
    parts = [{"type": "image_url", "image_url": {"url": huge, "detail": "low"}}]
    got = bound({"messages": [user(parts)]}, image_tokens=2500).prompt_tokens
    assert got == PER_REQUEST_TOKENS + PER_MESSAGE_TOKENS + 4 + 2500


def test_tools_and_response_format_add_their_json_and_a_template_allowance() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    fmt = {"type": "json_object"}
    plain = bound({"messages": [user("hi")]}).prompt_tokens
    got = bound({"messages": [user("hi")], "tools": tools, "response_format": fmt}).prompt_tokens
    assert got == plain + len(orjson.dumps(tools)) + len(orjson.dumps(fmt)) + TOOLS_TEMPLATE_TOKENS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, 4096),
        ({"max_tokens": 10}, 10),
        ({"max_completion_tokens": 20, "max_tokens": 10}, 20),
        ({"max_tokens": 10, "n": 3}, 30),
        ({"n": 2}, 8192),
    ],
)
def test_output_is_the_cap_times_n(fields: dict[str, Any], expected: int) -> None:
    assert bound({"messages": [user("hi")], **fields}).output_tokens == expected
