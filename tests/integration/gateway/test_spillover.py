"""Spill-over: a saturated local model (per its /metrics) sends work to the API, comes back
when the queue drains, and fail-closed routes queue up to a bound instead of spilling."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL, policy_text
from tests.support.gateway import Gateway, emulator_config, emulator_requests, running_gateway

ROUTES = """
  - name: private
    match: {headers: {x-private: "yes"}}
    candidates: [local]
    on_unavailable: reject
    spill: {max_waiting: 1, fail_closed_max_waiting: 1}
  - name: spilly
    match: {headers: {x-spill: "yes"}}
    candidates: [local, api]
    objective: min_cost
    spill: {max_waiting: 1, resume_ratio: 0.5}
    reasoning: {thinking: "off"}
"""


@pytest.fixture
def vllm_url() -> Iterator[str]:
    """A vLLM emulator of this test's own: queue gauges must not carry other tests' traffic."""
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(LOCAL_MODEL,)))) as url:
        yield url


@pytest.fixture
def spill_gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url, routes=ROUTES), tmp_path, ENV,
                         probe_interval_s=0.05,
                         timeouts={"first_byte_s": 30, "stream_idle_s": 30}) as gw:
        yield gw


def ask(gw: Gateway, header: str) -> httpx.Response:
    return httpx.post(gw.v1 + "/chat/completions", headers={header: "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "hello"}]}, timeout=30)


def occupy(gw: Gateway, n: int, header: str = "x-spill") -> list[threading.Thread]:
    threads = [threading.Thread(target=ask, args=(gw, header)) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def wait_for(predicate: object, timeout: float = 10.0, show: object = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not reached; state: {show() if show else ''}")  # type: ignore[operator]


def explain(gw: Gateway) -> object:
    return httpx.post(gw.v1 + "/route/explain", headers={"x-spill": "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()


def local_waiting(gw: Gateway) -> float:
    explained = httpx.post(gw.v1 + "/route/explain", headers={"x-spill": "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
    local = next(c for c in explained["candidates"] if c["model"] == "local")
    return float((local["load"] or {}).get("waiting", 0))


def test_saturated_local_spills_and_comes_back(spill_gateway: Gateway, vllm_url: str) -> None:
    gw = spill_gateway
    first = ask(gw, "x-spill")
    assert first.headers["x-junction-model"] == "local", (first.headers, explain(gw))
    # The emulated vLLM reports a queue, as other traffic on the GPUs would make one; the probe
    # reads it from /metrics like a real server's.
    emulator_config(vllm_url, extra_running=1, extra_waiting=3)
    wait_for(lambda: local_waiting(gw) >= 2, show=lambda: explain(gw))
    r = ask(gw, "x-spill")
    assert r.headers["x-junction-model"] == "api"
    assert r.headers["x-junction-attempts"] == "api:ok"
    assert r.headers["x-junction-spilled"].startswith("local: local saturated (waiting ")
    explained = httpx.post(gw.v1 + "/route/explain", headers={"x-spill": "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
    assert explained["spilled"] is True
    local = next(c for c in explained["candidates"] if c["model"] == "local")
    assert local["spilled"] and "waiting" in local["reason"]
    assert local["load"]["waiting"] >= 2
    # At the threshold but above resume_ratio x threshold (0.5 x 1): still spilled, so traffic
    # does not flap (hysteresis); at 0 waiting the route comes back to the local model.
    emulator_config(vllm_url, extra_running=1, extra_waiting=1)
    wait_for(lambda: local_waiting(gw) == 1, show=lambda: explain(gw))
    assert ask(gw, "x-spill").headers["x-junction-model"] == "api"
    emulator_config(vllm_url, extra_running=0, extra_waiting=0)
    wait_for(lambda: local_waiting(gw) == 0)
    wait_for(lambda: not explain(gw)["spilled"], show=lambda: explain(gw))  # type: ignore[index]
    assert ask(gw, "x-spill").headers["x-junction-model"] == "local"


def test_fail_closed_route_queues_then_503(spill_gateway: Gateway, vllm_url: str,
                                           api_url: str) -> None:
    gw = spill_gateway
    emulator_config(vllm_url, max_concurrency=1, ttft=2.0)
    # The private route never spills: these queue in vLLM (1 running, 2+ waiting).
    threads = occupy(gw, 4, "x-private")
    wait_for(lambda: local_waiting(gw) >= 2, show=lambda: explain(gw))
    r = ask(gw, "x-private")
    assert r.status_code == 503
    assert "local queue full" in r.json()["error"]["message"]
    assert emulator_requests(api_url) == []  # nothing spilled
    emulator_config(vllm_url, ttft=0.0)
    for t in threads:
        t.join(timeout=30)


def test_route_thinking_control_reaches_local_model(spill_gateway: Gateway,
                                                    vllm_url: str) -> None:
    r = ask(spill_gateway, "x-spill")
    assert r.headers["x-junction-model"] == "local"
    sent = emulator_requests(vllm_url)[-1]["body"]
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert not r.json()["choices"][0]["message"].get("reasoning")
