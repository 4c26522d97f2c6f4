"""Gateway processes (`router serve`) sharing one redis-server, for cross-replica tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]
ADMIN = "admin-token-for-tests"


def api_policy(api_url: str, price_per_million: float = 1000) -> str:
    """One OpenAI-compatible model priced the same for input and output."""
    return f"""
version: 1
models:
  api:
    backend: openai
    model: api-small
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: {price_per_million}, output_per_million: {price_per_million}}}
routes:
  - name: default
    candidates: [api]
"""


@contextmanager
def gateway_processes(
    policy: str, redis_url: str, workdir: Path, count: int = 2,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[str]]:
    """Start `count` gateways on free ports with their own key prefixes; yield their URLs."""
    path = workdir / "policy.yaml"
    path.write_text(policy)
    environ = {**os.environ, "JUNCTION_REDIS_URL": redis_url, "JUNCTION_ADMIN_TOKEN": ADMIN,
               "JUNCTION_ACCOUNTS__REQUIRE_KEY": "true", "TEST_API_KEY": "sk-test-api",
               "JUNCTION_LOG_LEVEL": "warning",
               # Their own key prefixes: other tests share this Redis.
               "JUNCTION_STATS__KEY_PREFIX": f"gw-{uuid.uuid4().hex}",
               "JUNCTION_ACCOUNTS__REDIS_PREFIX": f"gw-accounts-{uuid.uuid4().hex}",
               **(env or {})}
    procs, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "router.cli", "serve", "--config", str(path), "--port",
                 str(port)], cwd=ROOT, env=environ, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, f"gateway {url} exited with {proc.returncode}"
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


def admin(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, url + path, headers={"authorization": f"Bearer {ADMIN}"},
                         timeout=10, **kwargs)  # type: ignore[arg-type]


def new_key(url: str, team: str, limits: Mapping[str, object]) -> str:
    """A team with `limits` and one key of it; returns the key's secret."""
    r = admin(url, "POST", "/admin/teams", json={"name": team, "limits": dict(limits)})
    assert r.status_code in (200, 201), r.text
    r = admin(url, "POST", "/admin/keys", json={"team": team, "name": "test"})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["key"])


def day_spend(url: str, team: str) -> dict[str, float]:
    spend = admin(url, "GET", "/admin/spend", params={"team": team}).json()
    line = next(line for line in spend["budgets"] if line["window"] == "day")
    return {"spent": float(line["spent_usd"]), "reserved": float(line["reserved_usd"])}
