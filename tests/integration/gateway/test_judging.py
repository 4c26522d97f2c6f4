"""Sampled judging: a judge model grades a share of answers; never sensitive ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, emulator_requests, running_gateway

ROUTES = """
  - name: judged
    match: {headers: {x-judged: "yes"}}
    candidates: [local]
    judge: {model: api, share: 1.0}
"""


@pytest.fixture
def judged(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url, routes=ROUTES), tmp_path, ENV) as gw:
        yield gw


def test_judge_scores_become_feedback(judged: Gateway, api_url: str) -> None:
    book = judged.app.state.stats.quality_book
    r = httpx.post(judged.v1 + "/chat/completions", headers={"x-judged": "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "Hello, how are you?"}]})
    assert r.status_code == 200 and r.headers["x-junction-model"] == "local"
    deadline = time.monotonic() + 5
    while book.quality("chat", "local").n == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert book.quality("chat", "local").n > 0  # the judge's score was recorded
    sent = emulator_requests(api_url)[-1]["body"]
    assert sent["response_format"]["type"] == "json_schema"
    assert "Hello, how are you?" in sent["messages"][-1]["content"]


def test_sensitive_answers_are_never_judged(judged: Gateway, api_url: str) -> None:
    r = httpx.post(judged.v1 + "/chat/completions", headers={"x-judged": "yes"}, json={
        "model": "auto",
        "messages": [{"role": "user", "content": "Mail alice@example.com the contract"}]})
    assert r.status_code == 200
    # No sleep-then-look: a plain request after it is judged, and once that judgement has
    # arrived the sensitive one (whose judging would have been queued first) has had its turn.
    plain = httpx.post(judged.v1 + "/chat/completions", headers={"x-judged": "yes"}, json={
        "model": "auto", "messages": [{"role": "user", "content": "Hello, sentinel here"}]})
    assert plain.status_code == 200
    deadline = time.monotonic() + 5
    while not emulator_requests(api_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    judged_texts = [r["body"]["messages"][-1]["content"] for r in emulator_requests(api_url)]
    assert len(judged_texts) == 1 and "sentinel" in judged_texts[0]
    assert not any("alice@example.com" in text for text in judged_texts)
