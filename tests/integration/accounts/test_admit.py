"""`admit`: rate limits and the budget reservation in one atomic step, in memory and in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from router.accounts import AccessService, AccountsSettings, Limits
from router.app import make_redis
from router.errors import PermissionDenied, RateLimited
from router.settings import Settings
from tests.integration.accounts.support import new_prefix, team_and_key
from tests.support.redis_server import redis_process

pytestmark = pytest.mark.redis

Scenario = Callable[[AccessService], Awaitable[None]]


def _run_in_both(scenario: Scenario, redis_url: str) -> None:
    async def memory() -> None:
        await scenario(AccessService.create(Settings(), None, accounts=AccountsSettings()))

    async def redis() -> None:
        async with Redis.from_url(redis_url) as client:
            settings = Settings(redis_url=redis_url)
            accounts = AccountsSettings(redis_prefix=new_prefix())
            await scenario(AccessService.create(settings, client, accounts=accounts))

    asyncio.run(memory())
    asyncio.run(redis())


async def _day(access: AccessService) -> tuple[float, float]:
    line = (await access.spend(team="acme")).lines[0]
    return line.spent_usd, line.reserved_usd


def test_a_rate_limited_request_reserves_nothing(redis_url: str) -> None:
    async def scenario(access: AccessService) -> None:
        secret = await team_and_key(access, Limits(daily_usd=1.0, requests_per_minute=1))
        principal = await access.authenticate(f"Bearer {secret}")
        await access.admit(principal, 10, "first", 0.10)
        with pytest.raises(RateLimited) as caught:
            await access.admit(principal, 10, "second", 0.10)
        assert caught.value.code == "rate_limit_exceeded"
        assert await _day(access) == (0.0, pytest.approx(0.10))

    _run_in_both(scenario, redis_url)


def test_a_budget_refusal_still_counts_against_the_rate_limit(redis_url: str) -> None:
    async def scenario(access: AccessService) -> None:
        secret = await team_and_key(access, Limits(daily_usd=0.05, requests_per_minute=1))
        principal = await access.authenticate(f"Bearer {secret}")
        with pytest.raises(RateLimited) as budget:
            await access.admit(principal, 10, "too-dear", 0.10)
        assert budget.value.code == "budget_exceeded"
        with pytest.raises(RateLimited) as rate:
            await access.admit(principal, 10, "cheap", 0.01)
        assert rate.value.code == "rate_limit_exceeded"
        assert await _day(access) == (0.0, 0.0)

    _run_in_both(scenario, redis_url)


def test_the_per_request_cap_is_checked_before_anything_is_counted(redis_url: str) -> None:
    async def scenario(access: AccessService) -> None:
        secret = await team_and_key(
            access, Limits(requests_per_minute=1, max_cost_per_request_usd=0.05))
        principal = await access.authenticate(f"Bearer {secret}")
        with pytest.raises(PermissionDenied):
            await access.admit(principal, 10, "capped", 0.10)
        reservation = await access.admit(principal, 10, "fine", 0.01)  # the rate was not used
        await access.settle(reservation, 0.01)
        assert await _day(access) == (pytest.approx(0.01), 0.0)

    _run_in_both(scenario, redis_url)


def test_admit_is_one_round_trip_to_redis() -> None:
    async def calls(client: Redis) -> int:
        stats: dict[str, Any] = await client.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))
                   for name in ("evalsha", "eval", "script|load", "script"))

    async def scenario(url: str) -> None:
        settings = Settings(redis_url=url)
        client = make_redis(settings)
        assert client is not None
        access = AccessService.create(
            settings, client, accounts=AccountsSettings(redis_prefix=new_prefix()))
        secret = await team_and_key(access, Limits(daily_usd=1.0, requests_per_minute=100))
        principal = await access.authenticate(f"Bearer {secret}")
        await access.admit(principal, 10, "warm", 0.01)  # loads the script once
        async with Redis.from_url(url) as probe:
            before = await calls(probe)
            await access.admit(principal, 10, "measured", 0.01)
            assert await calls(probe) - before == 1
        await access.aclose()
        await client.aclose()

    with redis_process() as server:
        asyncio.run(scenario(server.url))
