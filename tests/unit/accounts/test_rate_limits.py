from __future__ import annotations

import asyncio

import pytest

from router.accounts import Limits
from router.accounts.admin_wire import TeamUpdate
from router.errors import RateLimited
from tests.unit.accounts.support import FakeClock, add_key, add_team, memory_service

START = "2025-03-10T12:00:00+00:00"


def test_requests_per_minute_allow_a_burst_then_refill_evenly() -> None:
    async def scenario() -> None:
        clock = FakeClock.at(START)
        service = memory_service(clock)
        await add_team(service)
        _, principal = await add_key(service, limits=Limits(requests_per_minute=3))
        for _ in range(3):
            await service.check_rate_limit(principal, tokens=0)
        with pytest.raises(RateLimited) as caught:
            await service.check_rate_limit(principal, tokens=0)
        assert caught.value.code == "rate_limit_exceeded"
        assert caught.value.headers["Retry-After"] == "20"
        assert f"key '{principal.key_id}' requests-per-minute limit (3)" in caught.value.message
        clock.advance(19.9)
        with pytest.raises(RateLimited):
            await service.check_rate_limit(principal, tokens=0)
        clock.advance(0.1)
        await service.check_rate_limit(principal, tokens=0)

    asyncio.run(scenario())


def test_tokens_per_minute_count_tokens_and_a_refusal_costs_nothing() -> None:
    async def scenario() -> None:
        clock = FakeClock.at(START)
        service = memory_service(clock)
        await add_team(service, limits=Limits(tokens_per_minute=1000))
        _, principal = await add_key(service)
        await service.check_rate_limit(principal, tokens=600)
        with pytest.raises(RateLimited, match="team 'acme' tokens-per-minute") as caught:
            await service.check_rate_limit(principal, tokens=600)
        assert caught.value.headers["Retry-After"] == "12"  # 200 tokens at 1000/min
        await service.check_rate_limit(principal, tokens=400)  # the refused 600 were not counted

    asyncio.run(scenario())


def test_a_request_larger_than_a_minutes_allowance_is_refused_without_retry() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(service, limits=Limits(tokens_per_minute=1000))
        _, principal = await add_key(service)
        with pytest.raises(RateLimited, match="needs 1001 tokens") as caught:
            await service.check_rate_limit(principal, tokens=1001)
        assert "Retry-After" not in caught.value.headers

    asyncio.run(scenario())


def test_team_limits_are_shared_and_a_refusal_counts_against_no_rule() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(service, limits=Limits(requests_per_minute=2))
        alice_secret, alice = await add_key(service, limits=Limits(requests_per_minute=10))
        _, bob = await add_key(service)
        await service.check_rate_limit(alice, tokens=0)
        await service.check_rate_limit(bob, tokens=0)
        with pytest.raises(RateLimited, match="team 'acme'"):
            await service.check_rate_limit(alice, tokens=0)
        # Lift the team limit: Alice has used 1 of her 10, the refused request was not counted.
        lifted = TeamUpdate(limits=Limits(requests_per_minute=None))
        await service.admin.update_team("acme", lifted)
        alice = await service.authenticate(f"Bearer {alice_secret}")
        for _ in range(9):
            await service.check_rate_limit(alice, tokens=0)
        with pytest.raises(RateLimited, match=f"key '{alice.key_id}'"):
            await service.check_rate_limit(alice, tokens=0)

    asyncio.run(scenario())


def test_anonymous_callers_are_not_rate_limited() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        principal = await service.authenticate(None)
        for _ in range(1000):
            await service.check_rate_limit(principal, tokens=10_000)

    asyncio.run(scenario())
