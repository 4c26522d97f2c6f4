"""Two `junction serve` processes on one Redis and one PostgreSQL: a policy activated on one is
served by the other within 1 s, and a key revoked on one is refused by the other within 1 s.
The safety-net poll is set far longer than that, so only the Redis notification can meet the
deadline; a replica that misses the notification still converges at its next poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
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


def replica_env(postgres_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, **ENV, "JUNCTION_DATABASE_URL": postgres_url,
            "JUNCTION_REDIS_URL": redis_url, "JUNCTION_ADMIN_TOKEN": TOKEN,
            "JUNCTION_LOG_LEVEL": "warning",
            "JUNCTION_STATS__KEY_PREFIX": f"pr-{uuid.uuid4().hex}",
            "JUNCTION_ACCOUNTS__REDIS_PREFIX": f"pr-accounts-{uuid.uuid4().hex}", **extra}


def local_policy(vllm_url: str, api_url: str, tmp_path: Path) -> tuple[str, Path]:
    text = policy_text(vllm_url, api_url).replace(
        "candidates: [local, api]\n    objective: min_cost", "candidates: [local]")
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    return text, policy


def seconds_until(check: Callable[[], bool], limit_s: float) -> float:
    """How long until `check()` holds; fails once `limit_s` has passed."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < limit_s, f"not within {limit_s} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_activation_and_revocation_reach_the_other_replica_within_a_second(
    vllm_url: str, api_url: str, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    text, policy = local_policy(vllm_url, api_url, tmp_path)
    # A poll this slow cannot meet the 1 s deadline: only the notification can.
    env = replica_env(postgres_url, redis_url, JUNCTION_STORE__NOTIFIED_POLL_INTERVAL_S="60")
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
        seconds_until(lambda: model_of(b) == "api", 1.0)

        # A rollback is an activation too.
        r = httpx.post(f"{a}/admin/policy/rollback", headers=AUTH)
        assert r.status_code == 200, r.text
        seconds_until(lambda: model_of(b) == "local", 1.0)

        httpx.post(a + "/admin/teams", headers=AUTH, json={"name": "acme"})
        created = httpx.post(a + "/admin/keys", headers=AUTH, json={"team": "acme"}).json()
        assert model_of(b, created["key"]) == "local"
        httpx.delete(f"{a}/admin/keys/{created['key_id']}", headers=AUTH)

        def refused() -> bool:
            r = httpx.post(b + "/v1/chat/completions", timeout=30,
                           headers={"authorization": f"Bearer {created['key']}"},
                           json={"model": "auto",
                                 "messages": [{"role": "user", "content": "hi"}]})
            return r.status_code == 401 and "revoked" in r.json()["error"]["message"]

        seconds_until(refused, 1.0)


def test_a_replica_that_misses_the_notification_converges_at_its_safety_net_poll(
    vllm_url: str, api_url: str, redis_url: str, postgres_url: str, tmp_path: Path
) -> None:
    text, policy = local_policy(vllm_url, api_url, tmp_path)
    env = replica_env(postgres_url, redis_url, JUNCTION_STORE__NOTIFIED_POLL_INTERVAL_S="1.5")
    # b listens on another channel (its own stats prefix): a's notifications never reach it,
    # as when a message is lost.
    deaf = {**env, "JUNCTION_STATS__KEY_PREFIX": f"pr-{uuid.uuid4().hex}"}
    with ExitStack() as stack:
        a = stack.enter_context(serve(policy, env))
        b = stack.enter_context(serve(policy, deaf))
        pushed = httpx.post(a + "/admin/policy/versions", headers=AUTH,
                            json={"yaml": default_to(text, "api")}).json()
        r = httpx.post(f"{a}/admin/policy/versions/{pushed['id']}/activate", headers=AUTH)
        assert r.status_code == 200, r.text
        seconds_until(lambda: model_of(b) == "api", 10.0)
