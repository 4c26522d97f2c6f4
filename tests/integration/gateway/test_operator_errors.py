"""What a new operator met at the edges: fail-closed headers, too-long prompts, deep JSON,
`models.retrieve`; each answer in OpenAI's error shape with the right status."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, closed_port_url, emulator_config, running_gateway

PII = "Please update the record for john.smith@example.com, card 4111 1111 1111 1111."


@pytest.mark.parametrize("stream", [False, True])
def test_fail_closed_503_names_no_model_and_says_when_to_retry(
    gateway: Gateway, vllm_url: str, stream: bool
) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=500)
    r = httpx.post(gateway.v1 + "/chat/completions", timeout=10, json={
        "model": "auto", "stream": stream, "messages": [{"role": "user", "content": PII}]})
    assert r.status_code == 503
    assert "x-junction-model" not in r.headers
    assert int(r.headers["retry-after"]) > 0
    assert r.headers["x-junction-route"] == "sensitive"


def test_fail_closed_rejection_before_any_attempt_says_when_to_retry(
    api_url: str, tmp_path: Path
) -> None:
    with running_gateway(policy_text(closed_port_url(), api_url), tmp_path, ENV,
                         probe_interval_s=0.05) as gw:
        # The probe marks the local model down; the engine then refuses before any attempt.
        for _ in range(200):
            r = httpx.post(gw.v1 + "/chat/completions", timeout=10, json={
                "model": "auto", "messages": [{"role": "user", "content": PII}]})
            assert r.status_code == 503
            assert "x-junction-model" not in r.headers
            assert int(r.headers["retry-after"]) > 0
            if "down per the capacity probe" in r.text:
                break
        else:
            raise AssertionError(f"the probe never marked the local model down: {r.text}")
