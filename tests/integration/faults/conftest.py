"""The fault matrix: a hostile upstream first, a well-behaved emulated API as the fallback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, run_in_thread
from tests.integration.faults.hostile import Hostile, hostile_upstream
from tests.support.gateway import Gateway, emulator_reset, running_gateway

ENV = {"BACKUP_KEY": "sk-backup"}


@pytest.fixture(scope="session")
def backup_url() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("backup-model",), api_key="sk-backup")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with hostile_upstream() as host:
        try:
            yield host
        finally:
            host.release()


def fault_policy(hostile_endpoint: str, backup_url: str, route_extra: str = "",
                 fallbacks: str = "[backup]") -> str:
    return f"""
version: 1
models:
  hostile:
    backend: openai
    model: hostile-model
    endpoints: ["{hostile_endpoint}"]
    prices: {{input_per_million: 1.0, output_per_million: 2.0}}
  backup:
    backend: openai
    model: backup-model
    endpoints: ["{backup_url}/v1"]
    api_key_env: BACKUP_KEY
    prices: {{input_per_million: 1.0, output_per_million: 2.0}}
routes:
  - name: default
    candidates: [hostile]
    fallbacks: {fallbacks}
{route_extra}
"""


GatewayFactory = Callable[..., AbstractContextManager[Gateway]]


@pytest.fixture
def gateway_for(
    hostile: Hostile, backup_url: str, tmp_path: Path
) -> Iterator[GatewayFactory]:
    """`with gateway_for(**settings) as gw:` a gateway whose first choice is the hostile one."""
    emulator_reset(backup_url)

    def make(endpoint: str | None = None, route_extra: str = "", fallbacks: str = "[backup]",
             **settings: Any) -> AbstractContextManager[Gateway]:
        settings.setdefault("timeouts", {"connect_s": 1.0, "first_byte_s": 5.0,
                                         "stream_idle_s": 5.0})
        settings.setdefault("breaker", {"failure_threshold": 3, "cooldown_s": 60})
        policy = fault_policy(endpoint or hostile.url + "/v1", backup_url, route_extra, fallbacks)
        return running_gateway(policy, tmp_path, ENV, **settings)

    yield make


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key="anything", max_retries=0, timeout=30)


MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]


def record_of(gw: Gateway, request_id: str) -> Any:
    """The gateway's record of a request, once written (it is written after the response)."""
    store = gw.app.state.stats
    for _ in range(500):
        record = asyncio.run(store.get_record(request_id))
        if record is not None:
            return record
        time.sleep(0.01)
    raise AssertionError(f"no record of {request_id}")


def ask(gw: Gateway, **extra: Any) -> httpx.Response:
    body = {"model": "auto", "messages": MESSAGES, **extra}
    return httpx.post(gw.v1 + "/chat/completions", json=body, timeout=30)
