"""GenAI span attributes: provider names, server address, and bounded reading of answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.gateway import spans
from router.policy.schema import ModelSpec


@pytest.mark.parametrize(("spec", "provider"), [
    ({"backend": "local", "model": "qwen", "endpoints": ["http://gpu:8000"]}, "vllm"),
    ({"backend": "openai", "model": "gpt-x", "endpoints": ["https://api.example/v1"]}, "openai"),
    ({"backend": "litellm", "model": "anthropic/claude-sonnet"}, "anthropic"),
    ({"backend": "litellm", "model": "gemini/gemini-pro"}, "gcp.gemini"),
    ({"backend": "litellm", "model": "bedrock/meta.llama"}, "aws.bedrock"),
    ({"backend": "litellm", "model": "somecloud/model"}, "somecloud"),
    ({"backend": "litellm", "model": "claude-3-haiku"}, "anthropic"),
    ({"backend": "litellm", "model": "gpt-4o"}, "openai"),
])
def test_provider_name(spec: dict[str, Any], provider: str) -> None:
    assert spans.provider_name(ModelSpec(**spec)) == provider


@pytest.mark.parametrize(("endpoint", "expected"), [
    ("http://127.0.0.1:8000/v1", (("server.address", "127.0.0.1"), ("server.port", 8000))),
    ("https://user:secret@api.example/v1?key=k",
     (("server.address", "api.example"), ("server.port", 443))),
    ("http://gpu", (("server.address", "gpu"), ("server.port", 80))),
])
def test_server_attributes_never_carry_credentials(
        endpoint: str, expected: tuple[tuple[str, str | int], ...]) -> None:
    assert spans.server_attributes(endpoint) == expected


def test_request_attributes_take_only_well_typed_parameters() -> None:
    body = {"max_completion_tokens": 50, "max_tokens": 10, "temperature": 1}
    assert spans.request_attributes(body, "m") == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
        "gen_ai.request.max_tokens": 50, "gen_ai.request.temperature": 1.0}
    odd = {"max_tokens": True, "temperature": "hot"}
    assert spans.request_attributes(odd, "m") == {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}


def test_completion_attributes_are_bounded_and_never_fail() -> None:
    body = orjson.dumps({"id": "x" * 1000, "model": "served", "choices": [
        {"finish_reason": "stop"}, {"finish_reason": None}, "junk",
        *({"finish_reason": "length"} for _ in range(20))]})
    attributes = spans.completion_attributes(body)
    assert len(attributes["gen_ai.response.id"]) == 128
    assert attributes["gen_ai.response.model"] == "served"
    assert attributes["gen_ai.response.finish_reasons"][0] == "stop"
    assert len(attributes["gen_ai.response.finish_reasons"]) <= 8
    for hostile in (b"not json", b"[1,2]", b'{"id": 5, "choices": "no"}', b""):
        assert spans.completion_attributes(hostile) == {}


@pytest.mark.parametrize(("spec", "model"), [
    ({"backend": "litellm", "model": "anthropic/claude-sonnet"}, "claude-sonnet"),
    ({"backend": "litellm", "model": "gpt-4o"}, "gpt-4o"),
    ({"backend": "openai", "model": "org/model", "endpoints": ["http://h/v1"]}, "org/model"),
])
def test_upstream_model_drops_only_litellm_prefixes(spec: dict[str, Any], model: str) -> None:
    assert spans.upstream_model(ModelSpec(**spec)) == model
