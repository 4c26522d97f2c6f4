"""Parsing `/v1/embeddings` bodies: OpenAI's input forms, limits, and shape detection."""

from __future__ import annotations

from typing import Any

import pytest

from router.doors.embeddings import (
    embeddings_as_chat,
    looks_like_embeddings,
    parse_embeddings_request,
)
from router.errors import InvalidRequest
from router.settings import EmbeddingsSettings

LIMITS = EmbeddingsSettings(max_inputs=4, max_input_tokens=10, max_dimensions=512)


@pytest.mark.parametrize(("value", "tokens", "token_inputs"), [
    ("hello there", (3,), 0),
    (["a", "bbbbbbbb"], (1, 2), 0),
    ([1, 2, 3], (3,), 1),
    ([[1, 2], [3]], (2, 1), 2),
])
def test_every_input_form_openai_accepts(value: Any, tokens: tuple[int, ...],
                                         token_inputs: int) -> None:
    parsed = parse_embeddings_request({"model": "auto", "input": value, "dimensions": 8,
                                       "encoding_format": "base64"}, LIMITS)
    assert parsed.tokens == tokens and parsed.token_inputs == token_inputs
    assert parsed.ask.inputs == len(tokens) and parsed.ask.dimensions == 8
    assert parsed.ask.encoding_format == "base64"
    assert parsed.prompt_bound >= sum(tokens)


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"model": "auto", "input": ["a"] * 5}, "input", "at most 4"),
    ({"model": "auto", "input": "x" * 41}, "input", "at most 10"),
    ({"model": "auto", "input": [list(range(11))]}, "input[0]", "at most 10"),
    ({"model": "auto", "input": "x", "dimensions": 513}, "dimensions", "1 to 512"),
    ({"model": "auto", "input": [True]}, "input[0]", "token ids"),
    ({"model": "auto", "input": [[2**31]]}, "input[0]", "token ids"),
    ({"model": "auto", "input": {"text": "x"}}, "input", "a list of strings"),
    ({"model": "", "input": "x"}, "model", "required"),
])
def test_limits_and_bad_values_name_the_field(body: dict[str, Any], param: str,
                                              words: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_embeddings_request(body, LIMITS)
    assert error.value.param == param and words in error.value.message


@pytest.mark.parametrize(("body", "expected"), [
    ({"model": "m", "input": ["a", "b"]}, True),
    ({"model": "m", "input": [[1, 2]]}, True),
    ({"model": "m", "input": "a", "encoding_format": "float"}, True),
    ({"model": "m", "input": "a"}, False),  # as good a Responses request: left to it
    ({"model": "m", "input": [{"role": "user", "content": "a"}]}, False),
    ({"model": "m", "messages": [], "input": ["a"]}, False),
])
def test_shape_detection_for_explain(body: dict[str, Any], expected: bool) -> None:
    assert looks_like_embeddings(body) is expected


def test_as_chat_keeps_the_text_for_classification() -> None:
    chat = embeddings_as_chat({"model": "m", "input": ["a", "b"], "user": "u", "dimensions": 3})
    assert chat == {"model": "m", "user": "u", "messages": [
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
