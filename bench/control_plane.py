"""The control plane's figures: what-if over 100,000 recorded requests, and how long an
activation takes to reach a second replica.

    python -m bench.control_plane [--records 100000] [--distinct N] [--activations 10]
                                  [--postgres URL]

what-if: fills a fresh SQLite data directory with synthetic records (mixed tasks, difficulty,
sensitivity, teams; no text), starts `junction serve` on it with the shipped default policy,
and times POST /admin/policy/whatif over every record (a candidate that moves traffic).
Target <= 5 s. By default every record's decision inputs are distinct (random difficulty and
prompt length: the worst case); `--distinct N` draws them from N distinct requests, as traffic
that repeats itself does (the replay decides each distinct input once).

activation: two `junction serve` processes on one throwaway redis-server and one PostgreSQL
database (a scratch database created on `--postgres` and dropped after; a benchmark does not
reach into tests/), activate on A, poll B's GET /admin/policy every 5 ms until it
names the new version. Target <= 1 s (replicas are notified through Redis; the change feed
is read every 5 s as a safety net).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
import httpx

from bench.accounts_overhead import throwaway_redis
from router.classify.types import Sensitivity, Task
from router.settings import SHIPPED_POLICY
from router.stats.records import ClassificationSummary, RequestRecord
from router.store.database import Database, database_url

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
MODELS = ("qwen3.5-35b-a3b", "gpt-4o-mini", "claude-sonnet")
POSTGRES = os.environ.get("JUNCTION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def unreachable_reason(server: str) -> str | None:
    """Why no PostgreSQL can be used, or None when one answers."""
    try:
        asyncio.run(_execute(f"{server}/postgres", "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        return f"no PostgreSQL at {server} ({type(exc).__name__}: {exc}); pass --postgres"
    return None


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new, empty database on `server` for this run; dropped afterwards."""
    name = f"junction_bench_{secrets.token_hex(6)}"
    asyncio.run(_execute(f"{server}/postgres", f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        asyncio.run(_execute(f"{server}/postgres",
                             f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def serve(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--port", str(port)], cwd=ROOT,
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def synthetic(n: int, distinct: int | None = None) -> Iterator[RequestRecord]:
    rng = random.Random(7)
    tasks = list(Task)
    now = time.time()
    for i in range(n):
        if distinct:
            rng = random.Random(i % distinct)
        sensitivity = rng.choices([Sensitivity.NONE, Sensitivity.PII, Sensitivity.SECRET],
                                  [0.85, 0.1, 0.05])[0]
        model = MODELS[0] if sensitivity is not Sensitivity.NONE else rng.choice(MODELS)
        yield RequestRecord(
            request_id=f"jr-bench-{i}", time=now - i * 0.5, team=f"team-{i % 20}",
            route="default",
            classification=ClassificationSummary(
                task=rng.choice(tasks), difficulty=rng.random(), sensitivity=sensitivity,
                prompt_tokens=rng.randint(20, 4000)),
            candidates=[model], chosen=model, answered_by=model,
            tokens_in=rng.randint(20, 4000), tokens_out=rng.randint(10, 800),
            cost_usd=rng.random() / 1000, total_ms=100.0, status=200,
        )


async def fill(data_dir: Path, n: int, distinct: int | None = None) -> None:
    db = Database(database_url(None, data_dir))
    batch: list[RequestRecord] = []
    for record in synthetic(n, distinct):
        batch.append(record)
        if len(batch) == 5000:
            await db.insert_records(batch)
            batch = []
    await db.insert_records(batch)
    await db.aclose()


def bench_whatif(records: int, distinct: int | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        asyncio.run(fill(data, records, distinct))
        print(f"filled {records:,} records in {time.perf_counter() - started:.1f} s")
        env = {"JUNCTION_DATA_DIR": str(data), "JUNCTION_ADMIN_TOKEN": TOKEN,
               "JUNCTION_LOCAL_URL": f"http://127.0.0.1:{free_port()}",
               "OPENAI_API_KEY": "sk-bench", "ANTHROPIC_API_KEY": "sk-bench",
               "JUNCTION_LOG_LEVEL": "warning"}
        candidate = SHIPPED_POLICY.read_text().replace("objective: min_cost",
                                                       "objective: max_quality")
        with serve(env) as url:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                r = httpx.post(url + "/admin/policy/whatif", headers=AUTH, timeout=120,
                               json={"yaml": candidate, "limit": records})
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
            body = r.json()
        inputs = f"{distinct:,} distinct inputs" if distinct else "every input distinct"
        print(f"what-if over {body['requests']:,} records ({inputs}): "
              f"{', '.join(f'{t:.2f}' for t in times)} s (3 runs; last replay alone "
              f"{body['seconds']:.2f} s wall, {body['cpu_seconds']:.2f} s CPU); "
              f"models after: {body['models']['after']}")


def bench_activation(activations: int, server: str) -> None:
    reason = unreachable_reason(server)
    if reason is not None:
        print(f"activation: skipped, {reason}")
        return
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        redis = stack.enter_context(throwaway_redis())
        pg = stack.enter_context(scratch_database(server))
        env = {"JUNCTION_DATABASE_URL": pg, "JUNCTION_REDIS_URL": redis,
               "JUNCTION_ADMIN_TOKEN": TOKEN, "JUNCTION_DATA_DIR": tmp,
               "JUNCTION_LOCAL_URL": f"http://127.0.0.1:{free_port()}",
               "OPENAI_API_KEY": "sk-bench", "ANTHROPIC_API_KEY": "sk-bench",
               "JUNCTION_LOG_LEVEL": "warning"}
        a = stack.enter_context(serve(env))
        b = stack.enter_context(serve(env))
        base = SHIPPED_POLICY.read_text()
        ids = []
        for i in range(2):
            r = httpx.post(a + "/admin/policy/versions", headers=AUTH,
                           json={"yaml": base + f"\n# variant {i}\n"})
            r.raise_for_status()
            ids.append(r.json()["id"])
        delays = []
        for n in range(activations):
            target = ids[n % 2]
            httpx.post(f"{a}/admin/policy/versions/{target}/activate",
                       headers=AUTH).raise_for_status()
            t0 = time.perf_counter()
            while httpx.get(b + "/admin/policy", headers=AUTH).json()["id"] != target:
                time.sleep(0.005)
            delays.append(time.perf_counter() - t0)
            time.sleep(random.uniform(0, 0.5))  # land anywhere in the poll interval
        print(f"activation reached replica b after: p50 {statistics.median(delays):.3f} s, "
              f"max {max(delays):.3f} s ({activations} activations)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=None,
                        help="draw the records' decision inputs from this many distinct ones")
    parser.add_argument("--activations", type=int, default=10)
    parser.add_argument("--postgres", default=POSTGRES.rstrip("/"),
                        help="a PostgreSQL server (trust auth) for the activation run")
    args = parser.parse_args()
    bench_whatif(args.records, args.distinct)
    bench_activation(args.activations, args.postgres.rstrip("/"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
