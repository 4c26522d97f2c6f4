"""The OpenAI emulator, driven by the official openai SDK over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pydantic
import pytest
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionToolParam,
)

from junction_emulate import EmulatorBehaviour, create_openai_app
from tests.integration.emulate.conftest import Serve

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say something, please."}]
WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object"}},
}


@pytest.fixture
def client(serve: Serve) -> Iterator[openai.OpenAI]:
    url = serve(create_openai_app(EmulatorBehaviour(models=("gpt-4o-mini",), api_key="sk-test")))
    with openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0) as sdk:
        yield sdk


def test_completion_says_it_is_emulated_and_counts_usage(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content is not None
    assert choice.message.content.startswith(
        "[emulated reply from gpt-4o-mini via Junction's emulator]"
    )
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 16 == len(choice.message.content.split())
    assert completion.usage.prompt_tokens == len("Say something, please.") // 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 16


def test_stream_matches_completion_and_ends_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 16
    plain = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert text == plain.choices[0].message.content


def test_stream_is_framed_as_openai_sse(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app())
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]

    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    assert "usage" not in json.loads(lines[-2][6:])  # no include_usage, no usage chunk


def test_max_tokens_caps_length(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_completion_tokens=5,
    )

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    assert len((completion.choices[0].message.content or "").split()) == 5


def test_n_gives_n_choices_streamed_or_not(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert completion.usage is not None and completion.usage.completion_tokens == 48

    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, n=2, stream=True
    )
    texts = {0: "", 1: ""}
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] == texts[1] == completion.choices[0].message.content


@pytest.mark.parametrize(
    ("prompt", "tool_choice", "expected"),
    [
        ("What does get_weather say for Paris?", "auto", "get_weather"),
        ("Just chat with me.", "auto", None),
        ("What does get_weather say for Paris?", "none", None),
        ("Just chat with me.", "required", "get_weather"),
        ("Just chat with me.", {"type": "function", "function": {"name": "get_time"}}, "get_time"),
    ],
)
def test_tool_calls_follow_tool_choice(
    client: openai.OpenAI,
    prompt: str,
    tool_choice: ChatCompletionToolChoiceOptionParam,
    expected: str | None,
) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": prompt}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=tool_choice,
    )

    choice = completion.choices[0]
    if expected is None:
        assert choice.finish_reason == "stop"
        assert not choice.message.tool_calls
        return
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == expected
    if expected == "get_weather":
        assert json.loads(call.function.arguments) == {
            "city": "example",
            "days": 1,
            "unit": "celsius",
        }


def test_tool_call_streams_as_deltas(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "call get_weather"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    names, ids, arguments, finishes = [], [], "", []
    for chunk in stream:
        choice = chunk.choices[0]
        finishes.append(choice.finish_reason)
        for call in choice.delta.tool_calls or []:
            assert call.index == 0
            if call.id:
                ids.append(call.id)
            if call.function and call.function.name:
                names.append(call.function.name)
            arguments += (call.function.arguments if call.function else None) or ""

    assert names == ["get_weather"]
    assert len(ids) == 1 and ids[0].startswith("call_")
    assert json.loads(arguments)["city"] == "example"
    assert finishes[-1] == "tool_calls"


def test_no_tool_call_after_a_tool_result(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "call get_weather"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=[WEATHER_TOOL],
    )

    assert completion.choices[0].finish_reason == "stop"


class Person(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]


class Team(pydantic.BaseModel):
    lead: Person
    size: int


def test_json_schema_reply_parses_into_the_schema(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=Team,
    )

    team = completion.choices[0].message.parsed
    assert team is not None
    assert team.lead.name == "example"
    assert isinstance(team.size, int)


def test_json_object_reply_is_an_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format={"type": "json_object"},
    )

    reply = json.loads(completion.choices[0].message.content or "")
    assert reply["emulated"] is True


def test_wrong_key_is_401_in_openai_shape(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app(EmulatorBehaviour(models=("gpt-4o-mini",), api_key="sk-test")))
    with (
        openai.OpenAI(base_url=f"{url}/v1", api_key="sk-wrong", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as raised,
    ):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    assert raised.value.code == "invalid_api_key"
    response = http.get(f"{url}/v1/models")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_model_and_bad_request_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-9", messages=MESSAGES)
    assert missing.value.code == "model_not_found"

    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert bad.value.param == "messages"
    assert "non-empty array" in bad.value.message


def test_models_are_listed(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["gpt-4o-mini"]


def test_requests_are_recorded_with_extra_fields_unchanged(
    serve: Serve, http: httpx.Client
) -> None:
    app = create_openai_app()
    url = serve(app)
    extra = {"metadata": {"trace": [1, 2, {"deep": None}]}, "vendor_knob": 0.25}
    with openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0) as sdk:
        sdk.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            extra_body=extra,
            extra_headers={"x-trace-id": "abc"},
        )

    recorded = http.get(f"{url}/_emulator/requests").json()
    assert recorded["count"] == 1
    (entry,) = recorded["requests"]
    assert entry["path"] == "/v1/chat/completions"
    assert entry["headers"]["x-trace-id"] == "abc"
    assert entry["headers"]["authorization"] == "Bearer k"
    assert entry["body"]["metadata"] == extra["metadata"]
    assert entry["body"]["vendor_knob"] == 0.25
    assert "temperature" not in entry["body"]
    assert app.state.recorder.recent[0].body == entry["body"]

    assert http.post(f"{url}/_emulator/reset").status_code == 200
    assert http.get(f"{url}/_emulator/requests").json() == {"count": 0, "requests": []}


def test_unknown_route_is_404_in_openai_shape(serve: Serve, http: httpx.Client) -> None:
    url = serve(create_openai_app())

    response = http.get(f"{url}/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert http.get(f"{url}/v1/chat/completions").status_code == 405
