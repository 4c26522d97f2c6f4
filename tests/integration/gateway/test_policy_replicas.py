"""Two `junction serve` processes on one Redis and one PostgreSQL: a policy activated on one is
served by the other (it polls the change feed every 0.5 s), and a key revoked on one is refused
by the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from tests.integration.gateway.conftest import ENV, policy_text
from tests.integration.gateway.test_policy_admin import default_to
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "replica-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@contextmanager
def serve(policy: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(policy), "--port",
         str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the gateway exited at start"
            assert time.monotonic() < deadline, f"{url} did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def model_of(url: str, key: str | None = None) -> str:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(url + "/v1/chat/completions", headers=headers, timeout=30, json={
        "model": "auto", "messages": [{"role": "user", "content": "hello there"}]})
    assert r.status_code == 200, r.text
    return r.headers["x-junction-model"]


def test_activation_and_revocation_reach_the_other_replica(
    vllm_url: str, api_url: str, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    text = policy_text(vllm_url, api_url).replace(
        "candidates: [local, api]\n    objective: min_cost", "candidates: [local]")
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    env = {**os.environ, **ENV, "JUNCTION_DATABASE_URL": postgres_url,
           "JUNCTION_REDIS_URL": redis_url, "JUNCTION_ADMIN_TOKEN": TOKEN,
           "JUNCTION_LOG_LEVEL": "warning",
           "JUNCTION_STATS__KEY_PREFIX": f"pr-{uuid.uuid4().hex}",
           "JUNCTION_ACCOUNTS__REDIS_PREFIX": f"pr-accounts-{uuid.uuid4().hex}"}
    with ExitStack() as stack:
        a = stack.enter_context(serve(policy, env))
        b = stack.enter_context(serve(policy, env))
        assert model_of(a) == model_of(b) == "local"
        # Both started from the same file: one version, seeded once.
        versions = httpx.get(b + "/admin/policy/versions", headers=AUTH).json()["data"]
        assert [v["id"] for v in versions] == [1]

        pushed = httpx.post(a + "/admin/policy/versions", headers=AUTH,
                            json={"yaml": default_to(text, "api")}).json()
        r = httpx.post(f"{a}/admin/policy/versions/{pushed['id']}/activate", headers=AUTH)
        assert r.status_code == 200, r.text
        assert model_of(a) == "api"
        deadline = time.monotonic() + 10  # generous; bench/control_plane.py measures it
        while model_of(b) != "api":
            assert time.monotonic() < deadline, "replica b never served the new policy"
            time.sleep(0.05)

        httpx.post(a + "/admin/teams", headers=AUTH, json={"name": "acme"})
        created = httpx.post(a + "/admin/keys", headers=AUTH, json={"team": "acme"}).json()
        assert model_of(b, created["key"]) == "api"
        httpx.delete(f"{a}/admin/keys/{created['key_id']}", headers=AUTH)
        r = httpx.post(b + "/v1/chat/completions", timeout=30,
                       headers={"authorization": f"Bearer {created['key']}"},
                       json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
