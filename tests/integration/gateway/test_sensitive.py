"""Sensitive data stays local, fail-closed: nothing reaches an external model, whatever happens."""

from __future__ import annotations

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

PII = "Please update the record for john.smith@example.com, card 4111 1111 1111 1111."


def post(gw: Gateway, body: dict[str, object], headers: dict[str, str] | None = None
         ) -> httpx.Response:
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers, timeout=10)


def test_sensitive_request_served_locally(gateway: Gateway, api_url: str) -> None:
    r = post(gateway, {"model": "auto", "messages": [{"role": "user", "content": PII}]})
    assert r.status_code == 200
    assert r.headers["x-junction-route"] == "sensitive"
    assert r.headers["x-junction-model"] == "local"
    assert r.headers["x-junction-sensitivity"] == "pii"
    assert emulator_requests(api_url) == []


@pytest.mark.parametrize("stream", [False, True])
def test_sensitive_with_local_failing_gets_503_and_nothing_leaves(
    gateway: Gateway, vllm_url: str, api_url: str, stream: bool
) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=500)
    r = post(gateway, {"model": "auto", "stream": stream,
                       "messages": [{"role": "user", "content": PII}]})
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "no_local_model_available"
    assert "fail-closed" in error["message"]
    # (a bare "4111" could be part of the hex request id; look for the card itself)
    assert "john.smith" not in r.text and "4111 1111 1111 1111" not in r.text
    assert emulator_requests(api_url) == []


def test_sensitive_with_local_down_gets_503(api_url: str, tmp_path: Path) -> None:
    with running_gateway(policy_text(closed_port_url(), api_url), tmp_path, ENV) as gw:
        r = post(gw, {"model": "auto", "messages": [{"role": "user", "content": PII}]})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "no_local_model_available"
        # not sensitive: spills over to the API
        ok = post(gw, {"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
        assert ok.status_code == 200 and ok.headers["x-junction-model"] == "api"
    assert len(emulator_requests(api_url)) == 1


def test_sensitive_named_for_external_model_is_refused(gateway: Gateway, api_url: str) -> None:
    client = openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="api", messages=[{"role": "user", "content": PII}])
    assert info.value.code == "sensitive_data_external_model"
    # a route name that would allow external models is also filtered
    r = post(gateway, {"model": "default", "messages": [{"role": "user", "content": PII}]})
    assert r.status_code == 200 and r.headers["x-junction-model"] == "local"
    assert emulator_requests(api_url) == []


def test_header_raises_but_never_lowers(gateway: Gateway, api_url: str) -> None:
    r = post(gateway, {"model": "api", "messages": [{"role": "user", "content": "plain text"}]},
             headers={"x-junction-sensitivity": "confidential"})
    assert r.status_code == 403
    r = post(gateway, {"model": "auto", "messages": [{"role": "user", "content": PII}]},
             headers={"x-junction-sensitivity": "none"})
    assert r.headers["x-junction-sensitivity"] == "pii"
    r = post(gateway, {"model": "auto", "messages": [{"role": "user", "content": "x"}]},
             headers={"x-junction-sensitivity": "top-secret"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "x-junction-sensitivity"
    assert emulator_requests(api_url) == []


@pytest.mark.parametrize("content", [
    "my key is sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2,
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA7Vq3kZbT9x2LmQpR8sYwE4nHcJf6uDgK1aXo5tBvNe3iMlPzWy0\n"
    "-----END RSA PRIVATE KEY-----",
    "CONFIDENTIAL - internal use only: Q3 acquisition plans",
])
def test_secrets_and_confidential_stay_local(
    gateway: Gateway, api_url: str, content: str
) -> None:
    r = post(gateway, {"model": "auto", "messages": [{"role": "user", "content": content}]})
    assert r.headers["x-junction-route"] == "sensitive", r.headers["x-junction-sensitivity"]
    assert emulator_requests(api_url) == []
