"""The local backend against a real vLLM: capacity probe, queueing, health, and the OpenAI API
features the gateway relies on (JSON, SSE, forced tool calls, thinking on and off).

The model has random weights, so tests never look at what it says: they send `ignore_eos`
(vLLM's extension) for exact lengths and turn thinking off where they need content, because a
random model never closes its `<think>` block.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionToolChoiceOptionParam, ChatCompletionToolParam

from local_backend.metrics import EndpointLoad
from local_backend.probe import CapacityProbe
from tests.integration.vllm.conftest import RealVllm, require_vllm, running_vllm
from tests.support.redis_server import free_port

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

THINKING_OFF: dict[str, object] = {"chat_template_kwargs": {"enable_thinking": False}}
WEATHER_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Berlin"]}},
            "required": ["city"],
        },
    },
}


def chat_body(model: str, max_tokens: int, **extra: object) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Tell me about the sea, in detail."}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        **extra,
    }


async def probe_once(endpoint: str) -> EndpointLoad | None:
    async with httpx.AsyncClient() as client:
        probe = CapacityProbe([endpoint], client, interval_s=1.0, failure_threshold=3)
        await probe.poll_once()
        return probe.snapshot(endpoint)


def test_probe_scrapes_real_metrics(real_vllm: RealVllm) -> None:
    async def scenario() -> tuple[EndpointLoad | None, EndpointLoad | None]:
        async with httpx.AsyncClient(timeout=60) as client:
            # The /v1 suffix is how providers spell it; the probe normalises it away.
            probe = CapacityProbe([f"{real_vllm.base_url}/v1"], client, interval_s=1.0)
            await probe.poll_once()
            first = probe.snapshot(real_vllm.base_url)
            response = await client.post(
                f"{real_vllm.base_url}/v1/chat/completions",
                json=chat_body(real_vllm.model, 16, **THINKING_OFF),
            )
            response.raise_for_status()
            await probe.poll_once()
            return first, probe.snapshot(f"{real_vllm.base_url}/v1/")

    first, second = asyncio.run(scenario())
    assert first is not None and first.healthy and first.last_error is None
    assert first.last_scrape_at is not None and first.last_scrape_at <= time.time()
    assert second is not None and second.healthy
    assert second.running == 0 and second.waiting == 0
    assert 0.0 <= second.kv_cache_usage <= 1.0
    # The request finished between the two scrapes, so the recent window holds it.
    assert second.ttft_p50_s is not None and second.ttft_p50_s > 0
    assert second.itl_p50_s is not None and second.e2e_p50_s is not None
    assert second.generation_tokens_per_s > 0 and second.prompt_tokens_per_s > 0


def test_probe_sees_the_queue(real_vllm: RealVllm) -> None:
    """max_num_seqs is 2: six concurrent requests leave some waiting, and the probe sees it.

    Each generates 1,500 tokens: on a busy machine vLLM's API server handed requests to the
    engine (and answered /metrics) seconds late, and six 64-token requests once came and went
    within one scrape (test_spillover_real.py's docstring says why).
    """

    async def scenario() -> tuple[list[EndpointLoad], EndpointLoad | None]:
        seen: list[EndpointLoad] = []
        async with httpx.AsyncClient(timeout=300) as client:
            probe = CapacityProbe([real_vllm.base_url], client, interval_s=0.1)
            await probe.poll_once()
            requests = [
                asyncio.create_task(
                    client.post(
                        f"{real_vllm.base_url}/v1/chat/completions",
                        json=chat_body(real_vllm.model, 1500, **THINKING_OFF),
                    )
                )
                for _ in range(6)
            ]
            while not all(r.done() for r in requests):
                await probe.poll_once()
                load = probe.snapshot(real_vllm.base_url)
                assert load is not None
                seen.append(load)
                await asyncio.sleep(0.1)
            for response in await asyncio.gather(*requests):
                response.raise_for_status()
            await probe.poll_once()
            return seen, probe.snapshot(real_vllm.base_url)

    seen, after = asyncio.run(scenario())
    assert max(load.waiting for load in seen) > 0, [(s.running, s.waiting) for s in seen]
    assert max(load.running for load in seen) <= 2
    assert after is not None and after.waiting == 0 and after.running == 0
    assert after.ttft_p95_s is not None and after.ttft_p50_s is not None
    assert after.ttft_p95_s >= after.ttft_p50_s


def test_health_goes_down_when_killed_and_up_after_restart(tmp_path: Path) -> None:
    """A second, short-lived server on a fixed port: killed hard, then restarted there."""
    require_vllm()
    port = free_port()
    log_path = tmp_path / "vllm-restart.log"
    with running_vllm(log_path, port) as server:
        up = asyncio.run(probe_once(server.base_url))
        assert up is not None and up.healthy
        os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
        server.process.wait(timeout=30)
        down = asyncio.run(probe_once(server.base_url))
        # Connection refused marks an endpoint down at the first failed poll.
        assert down is not None and not down.healthy
        assert down.last_error is not None and "connection refused" in down.last_error
    with running_vllm(log_path, port) as restarted:
        again = asyncio.run(probe_once(restarted.base_url))
        assert again is not None and again.healthy and again.consecutive_failures == 0


def test_least_loaded_skips_a_dead_endpoint(real_vllm: RealVllm) -> None:
    """A probe started on a live and a dead endpoint routes to the live one only."""
    dead = f"http://127.0.0.1:{free_port()}"

    async def scenario() -> tuple[str | None, EndpointLoad | None]:
        async with httpx.AsyncClient() as client:
            probe = CapacityProbe([dead, real_vllm.base_url], client, interval_s=0.2)
            await probe.start()
            try:
                return probe.least_loaded(), probe.snapshot(dead)
            finally:
                await probe.close()

    chosen, dead_load = asyncio.run(scenario())
    assert chosen == real_vllm.base_url
    assert dead_load is not None and not dead_load.healthy


@pytest.fixture(scope="module")
def client(real_vllm: RealVllm) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{real_vllm.base_url}/v1", api_key="unused", timeout=60)


def test_chat_completion_json(client: openai.OpenAI, real_vllm: RealVllm) -> None:
    completion = client.chat.completions.create(
        model=real_vllm.model,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        temperature=0,
        extra_body={"ignore_eos": True, **THINKING_OFF},
    )
    assert completion.model == real_vllm.model
    choice = completion.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant" and choice.message.content
    assert completion.usage is not None and completion.usage.completion_tokens == 8


def test_chat_completion_streams_with_usage(client: openai.OpenAI, real_vllm: RealVllm) -> None:
    stream = client.chat.completions.create(
        model=real_vllm.model,
        messages=[{"role": "user", "content": "Count to ten."}],
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True, **THINKING_OFF},
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text and finish == "length"
    assert usage is not None and usage.completion_tokens == 12


@pytest.mark.parametrize(
    "tool_choice",
    ["required", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["required", "named"],
)
def test_forced_tool_call(
    client: openai.OpenAI, real_vllm: RealVllm, tool_choice: ChatCompletionToolChoiceOptionParam
) -> None:
    # Thinking off: a forced call is constrained after the reasoning ends, and random weights
    # never end it.
    completion = client.chat.completions.create(
        model=real_vllm.model,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice=tool_choice,
        max_tokens=64,
        extra_body=THINKING_OFF,
    )
    calls = completion.choices[0].message.tool_calls
    assert calls, completion.model_dump_json()
    assert calls[0].type == "function" and calls[0].function.name == "get_weather"
    assert isinstance(json.loads(calls[0].function.arguments), dict)


def test_thinking_on_by_default_and_off_on_request(
    client: openai.OpenAI, real_vllm: RealVllm
) -> None:
    def ask(extra: dict[str, object]) -> tuple[str | None, str | None]:
        completion = client.chat.completions.create(
            model=real_vllm.model,
            messages=[{"role": "user", "content": "Why is the sky blue?"}],
            max_tokens=10,
            temperature=0,
            extra_body={"ignore_eos": True, **extra},
        )
        message = completion.choices[0].message
        return message.content, (message.model_extra or {}).get("reasoning")

    content_on, reasoning_on = ask({})
    assert reasoning_on and not content_on
    content_off, reasoning_off = ask(THINKING_OFF)
    assert content_off and not reasoning_off
