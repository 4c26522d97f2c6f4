"""Composing emulated replies: length, caps, tool choice, JSON, reasoning."""

from __future__ import annotations

import json

import pytest

from junction_emulate.behaviour import EmulatorBehaviour
from junction_emulate.replies import (
    Ask,
    ToolChoice,
    ToolSpec,
    chosen_tool,
    compose,
    estimate_tokens,
)

BEHAVIOUR = EmulatorBehaviour(completion_tokens=10, reasoning_tokens=4)
TOOLS = (
    ToolSpec("get_weather", {"type": "object", "properties": {"city": {"type": "string"}}}),
    ToolSpec("get_time"),
)


def test_plain_reply_says_it_is_emulated() -> None:
    reply = compose(Ask(model="m", prompt_tokens=1), BEHAVIOUR, "call_1")

    assert reply.text.startswith("[emulated reply from m via Junction's emulator]")
    assert reply.completion_tokens == 10 == len(reply.text.split())
    assert reply.finish == "stop"


@pytest.mark.parametrize(
    ("ask", "tokens", "finish"),
    [
        (Ask(model="m", prompt_tokens=1, max_tokens=3), 3, "length"),
        (Ask(model="m", prompt_tokens=1, max_tokens=10), 10, "stop"),
        (Ask(model="m", prompt_tokens=1, thinking=True), 14, "stop"),
        (Ask(model="m", prompt_tokens=1, thinking=True, max_tokens=2), 2, "length"),
        (Ask(model="m", prompt_tokens=1, min_tokens=25), 25, "stop"),
        (Ask(model="m", prompt_tokens=1, thinking=True, min_tokens=25), 25, "stop"),
        (Ask(model="m", prompt_tokens=1, ignore_eos=True, max_tokens=30), 30, "length"),
    ],
)
def test_length_and_finish(ask: Ask, tokens: int, finish: str) -> None:
    reply = compose(ask, BEHAVIOUR, "call_1")

    assert reply.completion_tokens == tokens
    assert reply.finish == finish


def test_reasoning_precedes_content_in_steps() -> None:
    reply = compose(Ask(model="m", prompt_tokens=1, thinking=True), BEHAVIOUR, "call_1")

    kinds = [kind for kind, _ in reply.steps]
    assert kinds == ["reasoning"] * 4 + ["content"] * 10


@pytest.mark.parametrize(
    ("text", "choice", "named", "expected"),
    [
        ("please get_weather", "auto", None, "get_weather"),
        ("please GET_TIME", "auto", None, "get_time"),
        ("nothing", "auto", None, None),
        ("get_weather", "none", None, None),
        ("nothing", "required", None, "get_weather"),
        ("get_time", "required", None, "get_time"),
        ("get_weather", "named", "get_time", "get_time"),
        (None, "auto", None, None),
    ],
)
def test_chosen_tool(
    text: str | None, choice: ToolChoice, named: str | None, expected: str | None
) -> None:
    ask = Ask(
        model="m",
        prompt_tokens=1,
        user_text=text,
        tools=TOOLS,
        tool_choice=choice,
        named_tool=named,
    )

    tool = chosen_tool(ask)
    assert (tool.name if tool else None) == expected


def test_tool_call_arguments_follow_the_schema() -> None:
    ask = Ask(model="m", prompt_tokens=1, user_text="get_weather", tools=TOOLS)
    reply = compose(ask, BEHAVIOUR, "call_1")

    assert reply.finish == "tool_calls"
    assert reply.content == ()
    assert reply.tool_call is not None
    assert reply.tool_call.arguments_object() == {"city": "example"}
    assert reply.completion_tokens == len(reply.tool_call.fragments)


def test_json_schema_reply() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    reply = compose(
        Ask(model="m", prompt_tokens=1, json_mode=True, json_schema=schema), BEHAVIOUR, "c"
    )

    assert json.loads(reply.text) == {"ok": True}


def test_estimate_tokens_reads_text_parts_and_tool_calls() -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a" * 40}, {"type": "image_url", "image_url": {}}],
        },
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "b" * 20}}]},
    ]

    assert estimate_tokens(messages) == 15
    assert estimate_tokens([]) == 1
