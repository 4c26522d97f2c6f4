"""Keys, budgets and rate limits across two gateway processes sharing a real redis-server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from router.accounts.estimate import token_bound
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]
ADMIN = "admin-token-for-tests"


def policy(api_url: str) -> str:
    return f"""
version: 1
models:
  api:
    backend: openai
    model: api-small
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 1000, output_per_million: 1000}}
routes:
  - name: default
    candidates: [api]
"""


@pytest.fixture(scope="module")
def replicas(redis_url: str, api_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[str, str]]:
    path = tmp_path_factory.mktemp("replicas") / "policy.yaml"
    path.write_text(policy(api_url))
    env = {**os.environ, "JUNCTION_REDIS_URL": redis_url, "JUNCTION_ADMIN_TOKEN": ADMIN,
           "JUNCTION_ACCOUNTS__REQUIRE_KEY": "true", "TEST_API_KEY": "sk-test-api",
           "JUNCTION_LOG_LEVEL": "warning",
           # Their own key prefixes: other tests share this Redis.
           "JUNCTION_STATS__KEY_PREFIX": f"replicas-{uuid.uuid4().hex}",
           "JUNCTION_ACCOUNTS__REDIS_PREFIX": f"replicas-accounts-{uuid.uuid4().hex}"}
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config", str(path), "--port",
             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.2)
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


def admin(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, url + path, headers={"authorization": f"Bearer {ADMIN}"},
                         timeout=10, **kwargs)  # type: ignore[arg-type]


def new_key(url: str, team: str, limits: dict[str, object]) -> str:
    r = admin(url, "POST", "/admin/teams", json={"name": team, "limits": limits})
    assert r.status_code in (200, 201), r.text
    r = admin(url, "POST", "/admin/keys", json={"team": team, "name": "test"})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["key"])


def chat(url: str, key: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                      json={"model": "auto", "max_tokens": 10,
                            "messages": [{"role": "user", "content": "hello there"}]},
                      timeout=30)


def test_budget_race_across_two_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    key = new_key(a, "racers", {"daily_usd": 1.0})

    async def fire() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=400)) as c:
            body = {"model": "auto", "max_tokens": 10,
                    "messages": [{"role": "user", "content": "hello there"}]}
            headers = {"authorization": f"Bearer {key}"}
            return list(await asyncio.gather(*(
                c.post((a if i % 2 else b) + "/v1/chat/completions", json=body, headers=headers)
                for i in range(200))))

    responses = asyncio.run(fire())
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(ok) + len(refused) == 200, {r.text for r in responses if r.status_code >= 500}
    assert ok and refused
    assert all(r.json()["error"]["code"] == "budget_exceeded" for r in refused)
    assert all("retry-after" in r.headers for r in refused)
    time.sleep(0.5)  # settlements run just after each response
    spend = admin(a, "GET", "/admin/spend", params={"team": "racers"}).json()
    day = next(line for line in spend["budgets"] if line["window"] == "day")
    bound = token_bound({"max_tokens": 10, "messages": [
        {"role": "user", "content": "hello there"}]}, default_output_tokens=4096, image_tokens=0)
    one_reservation = (bound.prompt_tokens + bound.output_tokens) * 1000 / 1e6  # at $1000/M
    assert day["spent_usd"] <= 1.0 + one_reservation
    assert day["reserved_usd"] == 0  # nothing leaked
    # With 200 requests at once, the first ones reserve the whole budget at their worst case
    # (an upper bound on billed tokens) and refuse the rest; they then settle at their true,
    # smaller cost. So at least as many as the budget holds reservations were served.
    assert len(ok) >= int(1.0 / one_reservation)


def test_rate_limit_is_shared_by_replicas(replicas: tuple[str, str]) -> None:
    a, b = replicas
    key = new_key(a, "limited", {"requests_per_minute": 6})
    statuses = [chat(a if i % 2 else b, key).status_code for i in range(10)]
    assert statuses.count(200) == 6, statuses
    refused = chat(a, key)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1


def test_revocation_applies_at_once_on_the_other_replica(replicas: tuple[str, str]) -> None:
    a, b = replicas
    key = new_key(a, "revokers", {})
    assert chat(b, key).status_code == 200
    key_id = next(k["key_id"] for k in admin(a, "GET", "/admin/keys").json()
                  if k["team"] == "revokers")
    assert admin(a, "DELETE", f"/admin/keys/{key_id}").status_code in (200, 204)
    r = chat(b, key)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_keys_required_and_admin_token_checked(replicas: tuple[str, str]) -> None:
    a, _ = replicas
    r = httpx.post(a + "/v1/chat/completions", json={
        "model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    wrong = httpx.get(a + "/admin/keys", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "error" in wrong.json()
    bad = admin(a, "POST", "/admin/teams", json={"name": "x", "limits": {"daily_usd": -1}})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "limits.daily_usd"
