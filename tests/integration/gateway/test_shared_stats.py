"""Two gateway instances on one Redis share request records, live stats and quality."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import openai

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import running_gateway


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_replicas_share_records_stats_and_feedback(
    vllm_url: str, api_url: str, redis_url: str, tmp_path: Path
) -> None:
    # A key prefix of its own: other tests share this Redis, and their traffic is data too.
    stats = {"refresh_interval_s": 0.1, "flush_interval_s": 0.05,
             "key_prefix": f"test-{uuid.uuid4().hex}"}
    text = policy_text(vllm_url, api_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_gateway(text, tmp_path / "a", ENV, redis_url=redis_url, stats=stats) as a, \
            running_gateway(text, tmp_path / "b", ENV, redis_url=redis_url, stats=stats) as b:
        client = openai.OpenAI(base_url=a.v1, api_key="x", max_retries=0)
        ids = [client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "Hi, a quick hello"}],
        )._request_id for _ in range(6)]

        # B sees A's traffic in its live window...
        b_store = b.app.state.stats
        eventually(lambda: b_store.snapshot("chat", "local").answered >= 6)
        assert b_store.snapshot("chat", "local").total_p95_ms is not None

        # ...accepts feedback for A's request ids...
        r = httpx.post(b.v1 + "/feedback", json={"request_id": ids[0], "thumbs": "down"})
        assert r.status_code == 200, r.text
        assert r.json()["quality"]["n"] == 1

        # ...and A's routing sees the updated quality.
        a_book = a.app.state.stats.quality_book
        eventually(lambda: a_book.quality("chat", "local").n == 1)
        explained = httpx.post(a.v1 + "/route/explain", json={
            "model": "auto", "messages": [{"role": "user", "content": "Hi, a quick hello"}]})
        local = next(c for c in explained.json()["candidates"] if c["model"] == "local")
        assert local["quality_source"] == "feedback"
