"""Feedback through the official client's request ids; records; live data in explain."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, running_gateway


def test_feedback_round_trip_updates_quality(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0)
    completion = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Hello, nice weather today"}])
    request_id = completion._request_id
    assert request_id
    before = gateway.app.state.stats.quality_book.quality("chat", "local")
    r = httpx.post(gateway.v1 + "/feedback", json={"request_id": request_id, "thumbs": "down"})
    assert r.status_code == 200, r.text
    after = r.json()["quality"]
    assert after["n"] == 1 and after["mean"] < before.mean
    again = httpx.post(gateway.v1 + "/feedback", json={"request_id": request_id, "score": 1.0})
    assert again.json()["quality"]["n"] == 1  # the last vote wins; retries do not stack
    assert again.json()["quality"]["mean"] > after["mean"]

    explained = httpx.post(gateway.v1 + "/route/explain", json={
        "model": "auto", "messages": [{"role": "user", "content": "Hello, nice weather"}]}).json()
    local = next(c for c in explained["candidates"] if c["model"] == "local")
    assert local["quality_source"] == "feedback"


def test_a_comment_is_logged_only_with_content_logging(
    vllm_url: str, api_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for log_content in (False, True):
        caplog.clear()
        (tmp_path / str(log_content)).mkdir()
        with running_gateway(policy_text(vllm_url, api_url), tmp_path / str(log_content), ENV,
                             log_content=log_content) as gw, \
                caplog.at_level(logging.INFO, logger="junction.feedback"):
            client = openai.OpenAI(base_url=gw.v1, api_key="x", max_retries=0)
            completion = client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "Hello there"}])
            r = httpx.post(gw.v1 + "/feedback", json={
                "request_id": completion._request_id, "thumbs": "up",
                "comment": "the greeting was warm"})
            assert r.status_code == 200, r.text
        logged = "the greeting was warm" in caplog.text
        assert logged is log_content


def test_feedback_errors(gateway: Gateway) -> None:
    unknown = httpx.post(gateway.v1 + "/feedback", json={"request_id": "jr-nope", "score": 1})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "request_id"
    out_of_range = httpx.post(gateway.v1 + "/feedback", json={"request_id": "jr-x", "score": 2})
    assert out_of_range.status_code == 400
    assert out_of_range.json()["error"]["param"] == "score"
    neither = httpx.post(gateway.v1 + "/feedback", json={"request_id": "jr-x"})
    assert neither.status_code == 400
    wrong_type = httpx.post(gateway.v1 + "/feedback", json={"request_id": 5, "score": 1})
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["param"] == "request_id"


def test_record_has_no_text_and_all_fields(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=gateway.v1, api_key="x", max_retries=0)
    secret_text = "The quarterly numbers look unusually good this time"
    completion = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": secret_text}])
    store = gateway.app.state.stats

    async def fetch() -> object:
        return await store.get_record(completion._request_id)

    record = None
    for _ in range(50):
        record = asyncio.run(fetch())
        if record is not None:
            break
    assert record is not None
    dumped = record.model_dump_json()  # type: ignore[attr-defined]
    assert "quarterly" not in dumped
    assert record.answered_by == "local" and record.route == "default"  # type: ignore[attr-defined]
    assert record.tokens_out > 0 and record.cost_usd > 0  # type: ignore[attr-defined]
    assert record.attempts[0].outcome == "ok"  # type: ignore[attr-defined]


def test_content_is_recorded_only_when_the_operator_turns_it_on(
    vllm_url: str, api_url: str, tmp_path: object
) -> None:
    from pathlib import Path

    from tests.integration.gateway.conftest import ENV, policy_text
    from tests.support.gateway import running_gateway

    assert isinstance(tmp_path, Path)
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV, log_content=True) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="x", max_retries=0)
        completion = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Remember the word tangerine"}])
        store = gw.app.state.stats
        record = None
        for _ in range(50):
            record = asyncio.run(store.get_record(completion._request_id))
            if record is not None:
                break
        assert record is not None
        assert "tangerine" in (record.prompt or "")
        assert "emulated" in (record.completion or "")
