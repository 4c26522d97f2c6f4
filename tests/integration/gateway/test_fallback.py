"""Fallbacks (500, timeout, refused connection), the circuit breaker, and broken streams."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import (
    Gateway,
    closed_port_url,
    emulator_config,
    emulator_requests,
    running_gateway,
)


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key="anything", max_retries=0, timeout=10)


def ask(gw: Gateway, stream: bool = False) -> httpx.Response:
    body = {"model": "auto", "stream": stream,
            "messages": [{"role": "user", "content": "Hello, what's new?"}]}
    return httpx.post(gw.v1 + "/chat/completions", json=body, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [500, 503, 429])
def test_falls_back_on_upstream_errors(
    gateway: Gateway, vllm_url: str, api_url: str, status: int, stream: bool
) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=status)
    r = ask(gateway, stream)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == f"local:{status},api:ok"
    assert r.headers["x-junction-model"] == "api"
    assert len(emulator_requests(api_url)) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_falls_back_on_timeout(gateway: Gateway, vllm_url: str, stream: bool) -> None:
    emulator_config(vllm_url, hang=True)
    started = time.monotonic()
    r = ask(gateway, stream)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "local:timeout,api:ok"
    assert time.monotonic() - started < 5


def test_falls_back_on_refused_connection(vllm_url: str, api_url: str, tmp_path: Path) -> None:
    # An OpenAI-compatible API (not probed) that refuses connections, before a working one.
    extra = f"""
  gone:
    backend: openai
    model: api-small
    endpoints: ["{closed_port_url()}"]
    prices: {{input_per_million: 0.01, output_per_million: 0.01}}
"""
    routes = """
  - name: first
    match: {headers: {x-route: gone}}
    candidates: [gone, api]
"""
    with running_gateway(policy_text(vllm_url, api_url, extra_models=extra, routes=routes),
                         tmp_path, ENV) as gw:
        r = httpx.post(gw.v1 + "/chat/completions", headers={"x-route": "gone"}, json={
            "model": "auto", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "gone:connect_error,api:ok"


def test_local_endpoint_the_probe_sees_down_is_skipped(api_url: str, tmp_path: Path) -> None:
    with running_gateway(policy_text(closed_port_url(), api_url), tmp_path, ENV) as gw:
        r = ask(gw)
        explained = httpx.post(gw.v1 + "/route/explain", json={
            "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "api:ok"
    local = next(c for c in explained["candidates"] if c["model"] == "local")
    assert "down per the capacity probe" in local["reason"]


def test_upstream_client_error_is_returned_not_retried(
    gateway: Gateway, vllm_url: str, api_url: str
) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=400)
    r = ask(gateway)
    assert r.status_code == 400
    assert "error" in r.json()
    assert r.headers["x-junction-attempts"] == "local:400"
    assert emulator_requests(api_url) == []


def test_all_candidates_fail_gives_502_with_attempts(
    gateway: Gateway, vllm_url: str, api_url: str
) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=500)
    emulator_config(api_url, fail_next=1, error_status=503)
    r = ask(gateway)
    assert r.status_code == 502
    error = r.json()["error"]
    assert error["type"] == "upstream_error" and error["code"] == "all_candidates_failed"
    assert "local: 500" in error["message"] and "api: 503" in error["message"]
    assert r.headers["x-junction-attempts"] == "local:500,api:503"


def test_circuit_breaker_opens_then_half_opens(gateway: Gateway, vllm_url: str) -> None:
    emulator_config(vllm_url, fail_next=3, error_status=500)
    for _ in range(3):
        assert ask(gateway).headers["x-junction-attempts"] == "local:500,api:ok"
    # open: local is not even tried, and explain says why
    r = ask(gateway)
    assert r.headers["x-junction-attempts"] == "api:ok"
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    explained = httpx.post(gateway.v1 + "/route/explain", json=body).json()
    local = next(c for c in explained["candidates"] if c["model"] == "local")
    assert "circuit open" in local["reason"]
    seen = len(emulator_requests(vllm_url))
    time.sleep(0.6)  # cooldown 0.5 s: one probe goes through and closes the circuit
    assert ask(gateway).headers["x-junction-attempts"] == "local:ok"
    assert len(emulator_requests(vllm_url)) == seen + 1


def test_stream_cut_after_first_byte_ends_with_error_event(
    gateway: Gateway, vllm_url: str
) -> None:
    emulator_config(vllm_url, cut_after_chunks=3, completion_tokens=20)
    body = {"model": "auto", "stream": True,
            "messages": [{"role": "user", "content": "a long answer please"}]}
    with httpx.stream("POST", gateway.v1 + "/chat/completions", json=body, timeout=10) as r:
        assert r.status_code == 200
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert '"error"' in events[-1]
    assert "[DONE]" not in events[-1]
    with pytest.raises(openai.APIError):
        list(client(gateway).chat.completions.create(
            model="auto", stream=True,
            messages=[{"role": "user", "content": "a long answer please"}]))


def test_client_disconnect_cancels_upstream_stream(gateway: Gateway, vllm_url: str) -> None:
    emulator_config(vllm_url, tps=20, completion_tokens=200)
    body = {"model": "auto", "stream": True,
            "messages": [{"role": "user", "content": "a slow answer"}]}
    with httpx.stream("POST", gateway.v1 + "/chat/completions", json=body, timeout=10) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                break
    # the emulator's in-flight count drops back to zero once Junction closes its side
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        load = httpx.get(vllm_url + "/load").json()["server_load"]
        if load == 0:
            break
        time.sleep(0.1)
    assert load == 0


def test_client_disconnect_cancels_non_streaming_upstream(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    emulator_config(vllm_url, ttft=5.0)
    body = {"model": "auto", "messages": [{"role": "user", "content": "slow please"}]}
    # Upstream timeouts far beyond the test, so only the disconnect can end the call early.
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         timeouts={"first_byte_s": 30, "stream_idle_s": 30}) as gw:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(gw.v1 + "/chat/completions", json=body, timeout=0.5)
        deadline = time.monotonic() + 2  # well before the emulator would answer
        while time.monotonic() < deadline:
            load = httpx.get(vllm_url + "/load").json()["server_load"]
            if load == 0:
                break
            time.sleep(0.1)
    assert load == 0  # Junction closed its upstream call well before the 5 s answer
