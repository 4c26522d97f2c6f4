"""The shipped default policy through the real gateway: ordinary work lands on the idle local
model first, and explain shows the live local price and utilisation it was judged by."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from junction_emulate import (
    EmulatorBehaviour,
    create_anthropic_app,
    create_openai_app,
    create_vllm_app,
    run_in_thread,
)
from tests.integration.gateway.test_spillover import wait_for
from tests.support.gateway import Gateway, running_gateway
from tests.unit.policy.test_default_policy import DEFAULT, ORDINARY

SERVED = "qwen3.5-35b-a3b"  # what the launch profiles pass as --served-model-name


@pytest.fixture
def default_gateway(tmp_path: Path) -> Iterator[Gateway]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(SERVED,)))) as local, \
         run_in_thread(create_openai_app(EmulatorBehaviour(
             models=("gpt-4o", "gpt-4o-mini"), api_key="sk-o"))) as api, \
         run_in_thread(create_anthropic_app(EmulatorBehaviour(
             models=("claude-sonnet-4-5",), api_key="sk-a"))) as anthropic:
        env = {"JUNCTION_LOCAL_URL": local, "OPENAI_BASE_URL": api + "/v1",
               "OPENAI_API_KEY": "sk-o", "ANTHROPIC_BASE_URL": anthropic,
               "ANTHROPIC_API_KEY": "sk-a"}
        with running_gateway(DEFAULT.read_text(), tmp_path, env, probe_interval_s=0.05) as gw:
            yield gw


def _explain(gw: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(gw.v1 + "/route/explain", json=body, timeout=10)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def test_ordinary_requests_go_to_the_idle_local_model(default_gateway: Gateway) -> None:
    gw = default_gateway
    wait_for(lambda: _local(_explain(gw, ORDINARY["hi"])).get("load") is not None,
             show=lambda: _explain(gw, ORDINARY["hi"]))
    with openai.OpenAI(base_url=gw.v1, api_key="unused", max_retries=0) as client:
        for name, body in ORDINARY.items():
            _ask_and_check(gw, client, name, body)


def _ask_and_check(gw: Gateway, client: openai.OpenAI, name: str, body: dict[str, Any]) -> None:
    explained = _explain(gw, body)
    assert explained["attempt_order"][:2] == ["qwen-local", "gpt-4o-mini"], name
    load = _local(explained)["load"]
    assert load["price_per_million_usd"] == 0.0 and load["utilisation"] < 0.5
    raw = client.chat.completions.with_raw_response.create(**body)
    assert raw.headers["x-junction-model"] == "qwen-local", name
    assert raw.headers["x-junction-route"] == "default"
    assert raw.parse().choices[0].message.content


def _local(explained: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in explained["candidates"] if c["model"] == "qwen-local")
