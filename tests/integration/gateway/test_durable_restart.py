"""`kill -9` of a real `junction serve` under traffic, then a restart on the same data directory:
keys, teams, spend and the records of answered requests are all still there."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.integration.gateway.test_accounts_replicas import ADMIN, admin, chat, new_key, policy
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def serve(policy_path: Path, data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env = {**os.environ, "JUNCTION_DATA_DIR": str(data_dir), "JUNCTION_ADMIN_TOKEN": ADMIN,
           "JUNCTION_ACCOUNTS__REQUIRE_KEY": "true", "TEST_API_KEY": "sk-test-api",
           "JUNCTION_LOG_LEVEL": "warning"}
    env.pop("JUNCTION_REDIS_URL", None)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(policy_path), "--port",
         str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the gateway exited at start"
            assert time.monotonic() < deadline, f"{url} did not start"
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def stored(data_dir: Path) -> tuple[set[str], int]:
    """Request ids stored and the team's settled spend, read straight from the SQLite file."""
    with sqlite3.connect(data_dir / "junction.db", timeout=10) as db:
        ids = {row[0] for row in db.execute("SELECT request_id FROM request_records")}
        rows = db.execute("SELECT spent_micro FROM spend WHERE counter LIKE 'team:acme:day:%'")
        spent = sum(row[0] for row in rows)
    return ids, spent


def test_kill_9_under_traffic_loses_nothing_that_was_answered_and_flushed(
    api_url: str, tmp_path: Path
) -> None:
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(policy(api_url))
    data_dir = tmp_path / "data"
    answered: list[str] = []  # request id of each 200
    stop = threading.Event()

    with serve(policy_path, data_dir) as (url, proc):
        key = new_key(url, "acme", {"daily_usd": 1000.0})

        def traffic() -> None:
            while not stop.is_set():
                try:
                    r = chat(url, key)
                except httpx.HTTPError:
                    return  # the gateway was killed
                if r.status_code == 200:
                    answered.append(r.headers["x-request-id"])

        threads = [threading.Thread(target=traffic) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            while len(answered) < 40:
                assert all(t.is_alive() for t in threads), "traffic stopped early"
                time.sleep(0.05)
            snapshot = list(answered)
            deadline = time.monotonic() + 20
            # Wait for the batch writer to have stored them, while traffic goes on.
            while not set(snapshot) <= stored(data_dir)[0]:
                assert time.monotonic() < deadline, "records were not written within 20 s"
                time.sleep(0.1)
            ids_before, spent_before = stored(data_dir)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

    assert spent_before > 0
    with serve(policy_path, data_dir) as (url, _):
        assert chat(url, key).status_code == 200  # the key authenticates after the restart
        teams = admin(url, "GET", "/admin/teams").json()
        assert "acme" in {t["name"] for t in teams}
        spend = admin(url, "GET", "/admin/spend", params={"team": "acme"}).json()
        day = next(line for line in spend["budgets"] if line["window"] == "day")
        assert day["spent_usd"] * 1_000_000 >= spent_before - 1
        ids_after, _ = stored(data_dir)
        assert set(snapshot) <= ids_before <= ids_after
