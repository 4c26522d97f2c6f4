"""Emulated backends on loopback, shared by the gateway tests; reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from junction_emulate import (
    EmulatorBehaviour,
    create_anthropic_app,
    create_openai_app,
    create_vllm_app,
    run_in_thread,
)
from tests.support.gateway import Gateway, emulator_config, emulator_reset, running_gateway

LOCAL_MODEL = "qwen-test"
DEFAULTS = {"ttft": 0.0, "tps": 0.0, "completion_tokens": 12, "error_rate": 0.0,
            "fail_next": 0, "hang": False, "hang_seconds": 0.0, "cut_after_chunks": None,
            "max_concurrency": 0}


@pytest.fixture(scope="session")
def vllm_url() -> Iterator[str]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(LOCAL_MODEL,)))) as url:
        yield url


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("api-small", "api-large"), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture(scope="session")
def anthropic_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("claude-emulated",), api_key="sk-ant-test")
    with run_in_thread(create_anthropic_app(behaviour)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_emulators(request: pytest.FixtureRequest) -> None:
    for name in ("vllm_url", "api_url", "anthropic_url"):
        if name in request.fixturenames:
            url = request.getfixturevalue(name)
            emulator_reset(url)
            emulator_config(url, **DEFAULTS)


def policy_text(local: str, api: str, *, extra_models: str = "", routes: str = "") -> str:
    return f"""
version: 1
models:
  local:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{local}"]
    capabilities: [tools, json_schema]
    context_window: 32768
    # average: these tests need local tokens to cost money (budgets, records).
    local_cost: {{gpu_hour_usd: 2.0, gpus: 1, tokens_per_second: 2000, mode: average}}
  api:
    backend: openai
    model: api-small
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.15, output_per_million: 0.6}}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
{extra_models}
routes:
{routes}
  - name: sensitive
    match: {{sensitivity: [pii, confidential, secret]}}
    candidates: [local]
    on_unavailable: reject
  - name: default
    candidates: [local, api]
    objective: min_cost
quality:
  chat: {{local: 0.8, api: 0.8}}
"""


ENV = {"TEST_API_KEY": "sk-test-api", "ANTHROPIC_KEY": "sk-ant-test"}


@pytest.fixture
def gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         breaker={"failure_threshold": 3, "cooldown_s": 0.5},
                         timeouts={"connect_s": 1.0, "first_byte_s": 1.5,
                                   "stream_idle_s": 2.0}) as gw:
        yield gw
