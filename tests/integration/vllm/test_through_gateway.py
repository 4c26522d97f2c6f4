"""Junction in front of a real vLLM (tiny random Qwen3.5 MoE on CPU) and an emulated API:
chat, streaming, tool calls, thinking control and endpoint death.

Spill-over driven by the real server's /metrics is in test_spillover_real.py (a vLLM of its own
with one seat, so the queue is certain); on the emulator in
tests/integration/gateway/test_spillover.py."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, run_in_thread
from tests.integration.vllm.conftest import RealVllm, require_vllm, running_vllm
from tests.support.gateway import Gateway, running_gateway
from tests.support.redis_server import free_port

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def policy(local_url: str, model: str, api_url: str) -> str:
    return f"""
version: 1
models:
  qwen-local:
    backend: local
    model: {model}
    endpoints: ["{local_url}"]
    capabilities: [tools, json_schema]
    context_window: 2048
    local_cost: {{gpu_hour_usd: 2.0, gpus: 1, tokens_per_second: 500, mode: marginal}}
  api:
    backend: openai
    model: api-small
    endpoints: ["{api_url}/v1"]
    prices: {{input_per_million: 2.5, output_per_million: 10}}
    capabilities: [tools, json_schema]
    context_window: 128000
routes:
  - name: think
    match: {{headers: {{x-think: "on"}}}}
    candidates: [qwen-local]
    reasoning: {{thinking: "on"}}
  - name: default
    candidates: [qwen-local, api]
    objective: min_cost
    spill: {{max_waiting: 0, resume_ratio: 0.5}}
    reasoning: {{thinking: "off"}}
"""


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with run_in_thread(create_openai_app(EmulatorBehaviour(models=("api-small",)))) as url:
        yield url


@pytest.fixture
def gateway(real_vllm: RealVllm, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy(real_vllm.base_url, real_vllm.model, api_url), tmp_path,
                         probe_interval_s=0.1,
                         timeouts={"first_byte_s": 60, "stream_idle_s": 60}) as gw:
        yield gw


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key="x", max_retries=0, timeout=120)


def test_chat_json_through_junction(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Say something"}],
        max_tokens=12, extra_body={"ignore_eos": True})
    completion = raw.parse()
    assert raw.headers["x-junction-model"] == "qwen-local"
    assert raw.headers["x-junction-attempts"] == "qwen-local:ok"
    assert completion.usage is not None and completion.usage.completion_tokens == 12
    assert completion.choices[0].message.content  # thinking off: the tokens are content


def test_streaming_through_junction(gateway: Gateway) -> None:
    chunks = list(client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Stream something"}],
        max_tokens=12, stream=True, stream_options={"include_usage": True},
        extra_body={"ignore_eos": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_forced_tool_call_through_junction(gateway: Gateway) -> None:
    completion = client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=64)
    calls = completion.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert isinstance(json.loads(calls[0].function.arguments), dict)  # type: ignore[union-attr]


def test_thinking_on_route_returns_reasoning(gateway: Gateway) -> None:
    thinking = client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Why is the sky blue?"}],
        max_tokens=10, temperature=0, extra_body={"ignore_eos": True},
        extra_headers={"x-think": "on"})
    message = thinking.choices[0].message
    assert (message.model_extra or {}).get("reasoning")
    plain = client(gateway).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Why is the sky blue?"}],
        max_tokens=10, temperature=0, extra_body={"ignore_eos": True})
    assert plain.choices[0].message.content
    assert not (plain.choices[0].message.model_extra or {}).get("reasoning")


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0,
             show: Callable[[], object] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in time; {show() if show else ''}")


def local_load(gw: Gateway) -> dict[str, float]:
    explained = httpx.post(gw.v1 + "/route/explain", json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
    local = next(c for c in explained["candidates"] if c["model"] == "qwen-local")
    return dict(local["load"] or {})


def test_endpoint_death_fails_over_and_recovers(api_url: str, tmp_path: Path) -> None:
    require_vllm()
    port = free_port()
    log_path = tmp_path / "vllm-death.log"

    def ask(gw: Gateway) -> httpx.Response:
        return httpx.post(gw.v1 + "/chat/completions", timeout=60, json={
            "model": "auto", "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 4})

    with running_vllm(log_path, port) as server:
        url = server.base_url
        with running_gateway(policy(url, server.model, api_url), tmp_path,
                             probe_interval_s=0.2,
                             timeouts={"first_byte_s": 60, "stream_idle_s": 60}) as gw:
            assert ask(gw).headers["x-junction-model"] == "qwen-local"
            os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
            server.process.wait(timeout=30)
            failed_over = ask(gw)
            assert failed_over.status_code == 200
            assert failed_over.headers["x-junction-model"] == "api"
            wait_for(lambda: "down" in json.dumps(httpx.post(gw.v1 + "/route/explain", json={
                "model": "auto", "messages": [{"role": "user", "content": "x"}]}).json()))
            assert ask(gw).headers["x-junction-attempts"] == "api:ok"  # not even tried
            with running_vllm(log_path, port):
                wait_for(lambda: ask(gw).headers["x-junction-model"] == "qwen-local")
