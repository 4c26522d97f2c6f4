"""Answers from litellm-backed models have OpenAI's shape, and each request logs one line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import running_gateway

TOP = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint",
       "service_tier"}
USAGE = {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
         "completion_tokens_details"}


def _extra(anthropic_url: str, api_url: str) -> str:
    return f"""
  claude:
    backend: litellm
    model: anthropic/claude-emulated
    endpoints: ["{anthropic_url}"]
    api_key_env: ANTHROPIC_KEY
    prices: {{input_per_million: 3, output_per_million: 15}}
  gpt:
    backend: litellm
    model: openai/api-large
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
"""


def _check_keys(obj: dict[str, object], inner: str, allowed_inner: set[str]) -> None:
    assert set(obj) <= TOP, set(obj) - TOP
    for choice in obj["choices"]:  # type: ignore[attr-defined]
        assert set(choice) <= {"index", inner, "finish_reason", "logprobs"}, choice
        assert set(choice.get(inner, {})) <= allowed_inner, choice
    usage = obj.get("usage")
    if isinstance(usage, dict):
        assert set(usage) <= USAGE, usage


def test_litellm_answers_have_openai_shape_and_log_one_line(
    vllm_url: str, api_url: str, anthropic_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    with running_gateway(policy_text(vllm_url, api_url,
                                     extra_models=_extra(anthropic_url, api_url)),
                         tmp_path, ENV) as gw:
        capfd.readouterr()
        caplog.clear()
        for model in ("claude", "gpt"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            answer = httpx.post(gw.v1 + "/chat/completions", json=body, timeout=30).json()
            _check_keys(answer, "message", {"role", "content", "refusal", "tool_calls",
                                            "function_call", "annotations", "audio"})
            assert "emulated" in answer["choices"][0]["message"]["content"]
            with httpx.stream("POST", gw.v1 + "/chat/completions", timeout=30, json={
                    **body, "stream": True, "stream_options": {"include_usage": True}}) as r:
                events = [line[6:] for line in r.iter_lines()
                          if line.startswith("data: ") and line != "data: [DONE]"]
            chunks = [json.loads(e) for e in events]
            assert chunks and chunks[-1]["usage"]["total_tokens"] > 0
            for chunk in chunks:
                _check_keys(chunk, "delta", {"role", "content", "refusal", "tool_calls",
                                             "function_call"})
    # One access line per request; nothing from litellm at INFO, on stderr or in the records.
    access = [r for r in caplog.records if r.name == "junction.access" and "status=" in
              r.getMessage()]
    assert len(access) == 4, [r.getMessage() for r in access]
    assert not [r for r in caplog.records if r.name.startswith("LiteLLM")
                and r.levelno < logging.WARNING]
    _, err = capfd.readouterr()
    assert "LiteLLM" not in err, err
