"""What a new operator met at the edges: fail-closed headers, too-long prompts, deep JSON,
`models.retrieve`; each answer in OpenAI's error shape with the right status."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
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


@pytest.mark.parametrize("depth", [129, 256, 700, 1024, 5000])
def test_deeply_nested_json_is_a_400_not_a_crash(
    gateway: Gateway, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    content = "[" * depth + "]" * depth
    body = '{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "x": ' + content
    r = httpx.post(gateway.v1 + "/chat/completions", content=body + "}",
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_json"
    assert "Traceback" not in caplog.text


def test_a_body_nested_within_the_limit_is_served(gateway: Gateway) -> None:
    nested = "[" * 100 + "]" * 100
    body = '{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "x": ' + nested
    r = httpx.post(gateway.v1 + "/chat/completions", content=body + "}",
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text


def test_models_retrieve_for_models_routes_and_auto(gateway: Gateway) -> None:
    with openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0) as client:
        listed = {m.id: m for m in client.models.list()}
        for name in ("auto", "default", "sensitive", "local", "api"):
            one = client.models.retrieve(name)
            assert one.id == name and one.object == "model"
            assert one.model_dump() == listed[name].model_dump()
        with pytest.raises(openai.NotFoundError) as info:
            client.models.retrieve("gpt-9")
    error = info.value.response.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'gpt-9'" in error["message"] and "auto" in error["message"]
    assert error["type"] == "invalid_request_error" or error["type"] == "not_found_error"


def test_feedback_413_does_not_name_the_chat_body_setting(gateway: Gateway) -> None:
    body = '{"request_id": "jr-1", "score": 1, "comment": "' + "x" * 70_000 + '"}'
    r = httpx.post(gateway.v1 + "/feedback", content=body,
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 413
    message = r.json()["error"]["message"]
    assert "JUNCTION_MAX_BODY_BYTES" not in message
    assert "65536" in message and "feedback" in message


def test_chat_413_names_the_setting_that_governs_it(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         max_body_bytes=1024) as gw:
        r = httpx.post(gw.v1 + "/chat/completions", timeout=10, json={
            "model": "auto", "messages": [{"role": "user", "content": "x" * 2000}]})
    assert r.status_code == 413
    assert "JUNCTION_MAX_BODY_BYTES" in r.json()["error"]["message"]


def test_admin_api_as_the_readme_describes_it(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV) as closed:
        r = httpx.get(closed.url + "/admin/teams", headers={"authorization": "Bearer x"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_disabled"
    admin = {"authorization": "Bearer admin-token"}
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         admin_token="admin-token") as gw:
        team = httpx.post(gw.url + "/admin/teams", headers=admin, json={
            "name": "acme", "limits": {"daily_usd": 20}})
        assert team.status_code in (200, 201), team.text
        key = httpx.post(gw.url + "/admin/keys", headers=admin, json={"team": "acme"})
        assert key.status_code in (200, 201), key.text
        expires = datetime.fromisoformat(key.json()["expires_at"])
        assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(hours=1)
        spend = httpx.get(gw.url + "/admin/spend", headers=admin, params={"team": "acme"})
    assert spend.status_code == 200
    body = spend.json()
    assert (body["scope"], body["owner"]) == ("team", "acme")
    day = body["budgets"][0]
    assert set(day) == {"scope", "owner", "window", "period", "spent_usd", "reserved_usd",
                        "limit_usd", "soft_limit_usd", "soft_exceeded", "hard_exceeded",
                        "reset_at"}
    assert day["window"] == "day" and day["limit_usd"] == 20 and day["spent_usd"] == 0


def test_a_prompt_too_long_for_every_model_is_a_clear_400(gateway: Gateway) -> None:
    words = "lorem ipsum dolor sit amet " * 40_000
    with openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0) as client, \
            pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="auto",
                                       messages=[{"role": "user", "content": words}])
    error = info.value.response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "largest context window" in error["message"] and "128000 (api)" in error["message"]
    assert "catch-all" not in error["message"]
