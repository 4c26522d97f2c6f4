"""200 requests in two processes race for the last dollars of a budget held in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

import pytest
from redis.asyncio import Redis

from router.accounts import Limits
from tests.integration.accounts.replicas import run_replicas
from tests.integration.accounts.support import new_prefix, redis_service, team_and_key

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BUDGET_USD = 10.0
ALREADY_SPENT_USD = 6.0
MAX_COST_USD = 0.10


async def _prepare(url: str, prefix: str) -> str:
    async with Redis.from_url(url) as redis:
        access = redis_service(redis, prefix)
        secret = await team_and_key(access, Limits(daily_usd=BUDGET_USD))
        principal = await access.authenticate(f"Bearer {secret}")
        await access.settle(
            await access.reserve(principal, "earlier", ALREADY_SPENT_USD), ALREADY_SPENT_USD
        )
        return secret


async def _leftovers(url: str, prefix: str) -> tuple[float, float, list[str], list[str]]:
    """Team spend and reservations, plus any reservation state left anywhere in Redis."""
    async with Redis.from_url(url, decode_responses=True) as redis:
        access = redis_service(redis, prefix)
        day = (await access.spend(team="acme")).lines[0]
        live = [key async for key in redis.scan_iter(f"{prefix}:budget:*:resv")]
        fields = []
        async for key in redis.scan_iter(f"{prefix}:budget:*"):
            if not key.endswith(":resv"):
                names = await cast("Awaitable[list[str]]", redis.hkeys(key))
                fields += [f"{key}/{name}" for name in names if name.startswith("r:")]
        return day.spent_usd, day.reserved_usd, live, fields


def test_two_replicas_never_overspend_and_leak_nothing(redis_url: str) -> None:
    prefix = new_prefix()
    secret = asyncio.run(_prepare(redis_url, prefix))
    spec = {
        "url": redis_url,
        "prefix": prefix,
        "secret": secret,
        "mode": "race",
        "tasks": 100,
        "max_cost": MAX_COST_USD,
    }
    reports = run_replicas([{**spec, "seed": 1}, {**spec, "seed": 2}])

    for report in reports:
        assert report["unexpected"] == []
    paths = ("ok", "rejected", "failed", "cancelled", "cancelled_in_reserve")
    total = {path: sum(r[path] for r in reports) for path in paths}
    # Every path was taken: served, refused at the limit, failed upstream, client gone (also
    # while its reserve script was in flight).
    assert all(total.values()), total
    assert total["cancelled"] > total["cancelled_in_reserve"], total  # some after reserving

    spent, reserved, live_sets, live_fields = asyncio.run(_leftovers(redis_url, prefix))
    settled_micro = sum(r["settled_micro"] for r in reports)
    # Exact to the micro-dollar: every settled request counted once, nothing else.
    assert round(spent * 1_000_000) == round(ALREADY_SPENT_USD * 1_000_000) + settled_micro
    assert spent <= BUDGET_USD + MAX_COST_USD
    assert reserved == 0
    assert live_sets == [] and live_fields == []
