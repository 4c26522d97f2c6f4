"""Prometheus with several workers: one scrape of a real `junction serve --workers 2` counts the
requests every worker served, not only the scraped worker's own."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import emulator_config
from tests.support.junction_process import junction_serve

REQUESTS = 40


def _requests_total(families: object) -> float:
    total = 0.0
    for family in families:  # type: ignore[attr-defined]
        if family.name == "junction_requests":
            total += sum(s.value for s in family.samples if s.name == "junction_requests_total")
    return total


def _per_worker(shared: Path, scratch: Path) -> dict[str, float]:
    """Requests counted in each worker's own file (one directory per pid, read alone)."""
    counts = {}
    for file in shared.glob("counter_*.db"):
        alone = scratch / file.stem
        alone.mkdir(parents=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[file.stem] = _requests_total(registry.collect())
    return counts


async def _send(base: str) -> None:
    # A connection per request, so the kernel hands them to whichever worker accepts.
    async def one(i: int) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(base + "/v1/chat/completions", json={
                "model": "auto", "messages": [{"role": "user", "content": f"hello {i}"}]})
            assert r.status_code == 200, r.text

    await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def test_one_scrape_counts_every_worker(vllm_url: str, api_url: str, redis_url: str,
                                        tmp_path: Path) -> None:
    # A slow-ish upstream keeps each worker busy, so the requests spread over both.
    emulator_config(vllm_url, ttft=0.2)
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text(vllm_url, api_url))
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_99999.db").write_bytes(b"left over from an earlier start")
    env = {**ENV, "JUNCTION_METRICS_DIR": str(shared), "JUNCTION_REDIS_URL": redis_url,
           "JUNCTION_DATA_DIR": str(tmp_path / "data")}
    with junction_serve(policy, tmp_path / "serve.log", env, "--workers", "2") as base:
        asyncio.run(_send(base))
        scrapes = []
        for _ in range(6):  # whichever worker answers, each scrape sees all of them
            r = httpx.get(base + "/metrics", timeout=10)
            assert r.status_code == 200
            scrapes.append(_requests_total(text_string_to_metric_families(r.text)))
        workers = _per_worker(shared, tmp_path / "scratch")
    assert scrapes == [REQUESTS] * len(scrapes)
    assert "counter_99999" not in workers  # the earlier start's file was removed
    served = [count for count in workers.values() if count > 0]
    assert len(served) == 2 and sum(served) == REQUESTS, workers
