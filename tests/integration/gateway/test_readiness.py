"""Readiness tells the truth: per route, whether a model can serve; start-up names each model
that cannot, with the reason (missing key, nothing on the port, a name vLLM does not serve)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx
import pytest

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from router.providers.litellm_provider import LiteLLMProvider
from router.settings import TimeoutSettings
from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, closed_port_url, running_gateway
from tests.unit.policy.test_default_policy import DEFAULT


def test_ready_when_every_route_has_a_model(gateway: Gateway) -> None:
    r = httpx.get(gateway.url + "/health/ready")
    assert r.status_code == 200, r.text
    routes = r.json()["checks"]["routes"]
    assert routes["default"] == {"ok": True, "available": ["local", "api"], "unavailable": {}}


def test_nothing_can_serve_is_503_with_each_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="junction")
    env = {"JUNCTION_LOCAL_URL": closed_port_url(),  # and no API keys at all
           "JUNCTION_EMBEDDING_URL": closed_port_url()}
    with running_gateway(DEFAULT.read_text(), tmp_path, env) as gw:
        r = httpx.get(gw.url + "/health/ready", timeout=10)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    routes = body["checks"]["routes"]
    assert set(routes) == {"sensitive", "hard", "default", "embeddings"}
    assert not any(status["ok"] for status in routes.values())
    default = routes["default"]["unavailable"]
    assert default["gpt-4o-mini"] == "API key variable OPENAI_API_KEY is not set"
    # The probe or readiness's own look, whichever saw the empty port first, says so.
    local_down = ("nothing answers at", "down per the capacity probe")
    assert any(words in default["qwen-local"] for words in local_down), default
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    for model, why in (("gpt-4o", "OPENAI_API_KEY is not set"),
                       ("gpt-4o-mini", "OPENAI_API_KEY is not set"),
                       ("claude-sonnet", "ANTHROPIC_API_KEY is not set")):
        lines = [w for w in warnings if w.startswith(f"model {model} is unavailable:")]
        assert len(lines) == 1 and why in lines[0], warnings
    local = [w for w in warnings if w.startswith("model qwen-local is unavailable:")]
    assert len(local) == 1 and any(words in local[0] for words in local_down), warnings


def test_a_local_model_name_vllm_does_not_serve_is_caught(
    api_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="junction")
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=("qwen3.5-35b-a3b",)))) as url, \
         running_gateway(policy_text(url, api_url), tmp_path, ENV) as gw:
        r = httpx.get(gw.url + "/health/ready", timeout=10)
    assert r.status_code == 503  # the sensitive route has only the local model
    routes = r.json()["checks"]["routes"]
    assert routes["default"]["ok"] and routes["default"]["available"] == ["api"]
    reason = routes["sensitive"]["unavailable"]["local"]
    assert "serves qwen3.5-35b-a3b, not 'qwen-test'" in reason
    assert "--served-model-name qwen-test" in reason
    assert any("model local is unavailable" in rec.getMessage() and "serves qwen3.5-35b-a3b"
               in rec.getMessage() for rec in caplog.records)


def test_a_local_endpoint_behind_a_key_is_checked_with_it() -> None:
    import asyncio

    from pydantic import SecretStr

    from router.gateway.availability import served_model_problem

    async def check(key: SecretStr | None) -> str | None:
        async with httpx.AsyncClient(timeout=5) as client:
            return await served_model_problem(client, url, "m", key)

    behaviour = EmulatorBehaviour(models=("m",), api_key="sk-local")
    with run_in_thread(create_vllm_app(behaviour)) as url:
        assert asyncio.run(check(SecretStr("sk-local"))) is None
        assert "answered HTTP 401" in (asyncio.run(check(None)) or "")


class _GatedImport(LiteLLMProvider):
    """litellm's import held at a gate, as it is for seconds on a real start."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        super().__init__(TimeoutSettings())

    def _load(self) -> None:
        self.gate.wait(30)
        super()._load()


def test_not_ready_while_litellm_is_still_importing(gateway: Gateway) -> None:
    gate = threading.Event()
    slow = _GatedImport(gate)
    providers = gateway.app.state.runtime_builder.providers
    providers["litellm"] = slow
    try:
        r = httpx.get(gateway.url + "/health/ready", timeout=10)
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["providers"] == {"litellm": "still loading"}
        gate.set()
        slow._loader.join(30)
        r = httpx.get(gateway.url + "/health/ready", timeout=10)
        assert r.status_code == 200, r.text
        assert "providers" not in r.json()["checks"]
    finally:
        gate.set()
        del providers["litellm"]
