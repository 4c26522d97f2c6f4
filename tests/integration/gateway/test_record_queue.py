"""A full record queue drops records and counts them in /metrics; requests are served."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import running_gateway


def test_a_full_record_queue_drops_and_counts_without_failing_requests(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    # One record fits and nothing is written for a minute: the next ones cannot be queued.
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         store={"queue_size": 1, "flush_interval_s": 60}) as gw:
        for _ in range(3):
            r = httpx.post(gw.v1 + "/chat/completions", timeout=30, json={
                "model": "auto", "messages": [{"role": "user", "content": "hello there"}]})
            assert r.status_code == 200, r.text
        metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    assert "junction_records_dropped_total 2.0" in metrics
