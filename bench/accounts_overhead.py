"""Time accounts adds to one request: authenticate + check_rate_limit + reserve + settle.

"redis_admit" times the request path's form, authenticate + admit (rate limits and the
reservation in one round trip) + settle.

    python -m bench.accounts_overhead [--requests 3000] [--loop uvloop] [--json out.json]
                                      [--redis-url redis://127.0.0.1:6379/15]

Uses `--redis-url` (a Redis it may write to) or starts a throwaway
redis-server on loopback (a benchmark does not reach into tests/), creates a team
and a key with day and month budgets and both rate limits (so every check runs), then times
the four calls per request, one request at a time, against Redis and against the in-memory
store, next to an empty loop ("none"). Target: p50 added <= 1 ms with Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.asyncio import Redis

from router.accounts import AccessService, AccountsSettings, Limits
from router.accounts.admin_wire import KeyCreate, TeamCreate
from router.settings import RedisSettings, Settings

LIMITS = Limits(daily_usd=1e6, monthly_usd=1e7, requests_per_minute=10**9, tokens_per_minute=10**12)


async def _measure(
    one_request: Callable[[int], Awaitable[None]], requests: int, warmup: int
) -> list[float]:
    for i in range(warmup):
        await one_request(-1 - i)
    samples = []
    for i in range(requests):
        started = time.perf_counter()
        await one_request(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _access_request(
    access: AccessService, run: str, *, admit: bool = False
) -> Callable[[int], Awaitable[None]]:
    team = f"bench-{run.replace('_', '-')}"
    await access.admin.create_team(TeamCreate(name=team, limits=LIMITS))
    _, secret = await access.admin.create_key(KeyCreate(team=team, limits=LIMITS))
    header = f"Bearer {secret}"

    async def one_request(i: int) -> None:
        principal = await access.authenticate(header)
        if admit:
            reservation = await access.admit(principal, 500, f"{run}-{i}", max_cost_usd=0.02)
        else:
            await access.check_rate_limit(principal, tokens=500)
            reservation = await access.reserve(principal, f"{run}-{i}", max_cost_usd=0.02)
        await access.settle(reservation, 0.0123)

    return one_request


async def _nothing(_: int) -> None:
    return None


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1],
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1],
        "mean_ms": statistics.fmean(ordered),
        "max_ms": ordered[-1],
    }


async def _bench(url: str, requests: int, warmup: int) -> dict[str, dict[str, float]]:
    # A generous timeout: on a busy machine one scheduling stall must not abort the run.
    settings = Settings(redis=RedisSettings(timeout_ms=2000))
    results = {"none": _summary(await _measure(_nothing, requests, warmup))}
    memory = AccessService.create(settings, None, accounts=AccountsSettings())
    results["memory"] = _summary(
        await _measure(await _access_request(memory, "memory"), requests, warmup)
    )
    redis = Redis.from_url(url)
    try:
        access = AccessService.create(
            settings, redis, accounts=AccountsSettings(redis_prefix="bench")
        )
        results["redis"] = _summary(
            await _measure(await _access_request(access, "redis"), requests, warmup)
        )
        results["redis_admit"] = _summary(
            await _measure(
                await _access_request(access, "redis_admit", admit=True), requests, warmup
            )
        )
    finally:
        await redis.aclose()
    return results


@contextmanager
def throwaway_redis() -> Iterator[str]:
    """A redis-server on a free loopback port, without persistence; stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; install it or pass --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"redis-server did not start on port {port}") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def redis_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
    else:
        with throwaway_redis() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--redis-url", help="A running Redis to use instead of a throwaway one.")
    args = parser.parse_args()
    with redis_url(args.redis_url) as url:
        coro = _bench(url, args.requests, args.warmup)
        if args.loop == "uvloop":
            import uvloop  # an optional speed-up, only imported when asked for

            results = uvloop.run(coro)
        else:
            results = asyncio.run(coro)
    none_p50 = results["none"]["p50_ms"]
    header = f"{'backend':12} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
    print(f"{header}  (loop {args.loop})")
    for name, figures in results.items():
        print(
            f"{name:12} {figures['p50_ms']:8.3f} {figures['p95_ms']:8.3f} "
            f"{figures['p99_ms']:8.3f} {figures['mean_ms']:8.3f}"
        )
    added = results["redis_admit"]["p50_ms"] - none_p50
    print(
        f"added p50 with redis (admit): {added:.3f} ms (target <= 1 ms): "
        f"{'ok' if added <= 1 else 'MISSED'}"
    )
    if args.json:
        args.json.write_text(json.dumps({"loop": args.loop, **results}, indent=2))


if __name__ == "__main__":
    main()
