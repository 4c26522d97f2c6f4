"""One replica in a multi-process test: its own AccessService, Redis client and event loop.

Run as `python -m tests.integration.accounts.worker '<json spec>'`. It prints "ready" once
connected and authenticated, waits for "go" on stdin (so replicas start together), runs the
scenario and prints one JSON line with what it saw.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from typing import Any

from redis.asyncio import Redis

from router.accounts import AccessService, Principal
from router.errors import RateLimited
from tests.integration.accounts.support import redis_service


class UpstreamFailed(Exception):
    """Stands for a provider error: the gateway releases the reservation."""


async def _race(
    access: AccessService, principal: Principal, spec: dict[str, Any]
) -> dict[str, Any]:
    """`tasks` requests race for the last dollars; some fail upstream, and some clients
    disconnect (their task is cancelled) while their reservation or settlement is in flight."""
    rng = random.Random(spec["seed"])
    counts = {"ok": 0, "rejected": 0, "failed": 0, "cancelled_in_reserve": 0}
    settled_micro = 0

    async def request(i: int) -> None:
        nonlocal settled_micro
        await asyncio.sleep(rng.uniform(0, 0.03))  # arrivals spread so the replicas interleave
        if i % 5 == 1:  # gone within ~one Redis round trip: mostly while reserve is in flight
            _disconnect_after(rng.uniform(0, 0.003))
        try:
            reservation = await access.reserve(principal, f"{spec['seed']}-{i}", spec["max_cost"])
        except RateLimited as exc:
            assert exc.code == "budget_exceeded", exc.message
            counts["rejected"] += 1
            return
        except asyncio.CancelledError:
            counts["cancelled_in_reserve"] += 1
            raise
        if i % 10 in (7, 9):  # gone later: while waiting on the model, or mid-settle
            _disconnect_after(rng.uniform(0, 0.06))
        try:
            await asyncio.sleep(rng.uniform(0, 0.05))
            if i % 10 == 3:
                raise UpstreamFailed
            actual_micro = rng.randint(20_000, round(spec["max_cost"] * 1_000_000))
            # Counted before the call: a settle that has started always completes (shielded).
            settled_micro += actual_micro
            await access.settle(reservation, actual_micro / 1_000_000)
            counts["ok"] += 1
        except UpstreamFailed:
            counts["failed"] += 1
        finally:
            await access.release(reservation)  # what the gateway's `finally` does

    results = await asyncio.gather(
        *(request(i) for i in range(spec["tasks"])), return_exceptions=True
    )
    await access.aclose()
    cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
    unexpected = [
        repr(r)
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
    ]
    return {
        **counts,
        "cancelled": cancelled,
        "unexpected": unexpected,
        "settled_micro": settled_micro,
    }


def _disconnect_after(delay_s: float) -> None:
    """Cancel the current request after `delay_s`, as a client disconnect does."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().call_later(delay_s, task.cancel)


async def _rate(
    access: AccessService, principal: Principal, spec: dict[str, Any]
) -> dict[str, Any]:
    async def one() -> int | None:
        try:
            await access.check_rate_limit(principal, tokens=spec.get("tokens", 0))
        except RateLimited as exc:
            return int(exc.headers["Retry-After"])
        return None

    waits = await asyncio.gather(*(one() for _ in range(spec["tasks"])))
    refused = [wait for wait in waits if wait is not None]
    return {"allowed": len(waits) - len(refused), "retry_after": refused}


async def _main(spec: dict[str, Any]) -> dict[str, Any]:
    redis = Redis.from_url(spec["url"])
    try:
        access = redis_service(redis, spec["prefix"], timeout_ms=spec.get("timeout_ms", 5000))
        principal = await access.authenticate(f"Bearer {spec['secret']}")
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        scenario = _race if spec["mode"] == "race" else _rate
        return await scenario(access, principal, spec)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_main(json.loads(sys.argv[1])))), flush=True)
