from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from router.accounts import Limits
from router.accounts.models import BudgetLine, BudgetStatus, Scope, Window
from router.errors import PermissionDenied, RateLimited
from tests.unit.accounts.support import FakeClock, add_key, add_team, memory_service

# One minute before the end of January (UTC): day and month roll over together soon.
JAN_31_2359 = "2025-01-31T23:59:00+00:00"


def test_reserve_then_settle_records_the_exact_cost() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(daily_usd=10))
        _, principal = await add_key(service)
        reservation = await service.reserve(principal, "r1", max_cost_usd=0.3)
        during = await service.spend(team="acme")
        assert during.lines[0].reserved_usd == pytest.approx(0.3)
        await service.settle(reservation, 0.123457)
        report = await service.spend(team="acme")
        day = report.lines[0]
        assert (day.window, day.period) == ("day", "2025-01-31")
        assert day.spent_usd == 0.123457
        assert day.reserved_usd == 0
        key_report = await service.spend(key_id=principal.key_id)
        assert key_report.lines[0].spent_usd == 0.123457  # unlimited budgets still count

    asyncio.run(scenario())


def test_the_hard_limit_answers_429_naming_the_budget_and_its_reset() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(daily_usd=1.0))
        _, principal = await add_key(service)
        await service.settle(await service.reserve(principal, "r1", 0.9), 0.9)
        with pytest.raises(RateLimited) as caught:
            await service.reserve(principal, "r2", 0.2)
        error = caught.value
        assert error.code == "budget_exceeded"
        assert "team 'acme' daily budget is exhausted: $0.90 of $1.00" in error.message
        assert "may cost up to $0.20" in error.message
        assert "2025-02-01T00:00:00+00:00" in error.message
        assert error.headers["Retry-After"] == "60"
        # What still fits is still served.
        await service.reserve(principal, "r3", 0.1)

    asyncio.run(scenario())


def test_a_key_budget_is_named_as_the_keys() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service)
        _, principal = await add_key(service, limits=Limits(monthly_usd=0.5))
        with pytest.raises(RateLimited, match=f"key '{principal.key_id}' monthly budget"):
            await service.reserve(principal, "r1", 0.6)

    asyncio.run(scenario())


def test_soft_and_hard_flags_follow_spend_and_reservations() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(monthly_usd=10, soft_limit_ratio=0.8))
        _, principal = await add_key(service)
        status = await service.budget_status(principal)
        assert not status.soft_exceeded and not status.hard_exceeded and status.which is None
        await service.settle(await service.reserve(principal, "r1", 7.9), 7.9)
        assert not (await service.budget_status(principal)).soft_exceeded
        held = await service.reserve(principal, "r2", 0.1)  # reservations count too
        status = await service.budget_status(principal)
        assert status.soft_exceeded and not status.hard_exceeded
        assert status.which == "team 'acme' monthly budget"
        assert status.reset_at == datetime.fromisoformat("2025-02-01T00:00:00+00:00")
        await service.settle(held, 2.1)  # the true cost may exceed the estimate
        status = await service.budget_status(principal)
        assert status.hard_exceeded and status.which == "team 'acme' monthly budget"

    asyncio.run(scenario())


def test_day_and_month_reset_at_utc_midnight_and_the_first() -> None:
    async def scenario() -> None:
        clock = FakeClock.at("2025-01-30T23:59:00+00:00")
        service = memory_service(clock)
        await add_team(service, limits=Limits(daily_usd=1, monthly_usd=1.5))
        _, principal = await add_key(service)
        await service.settle(await service.reserve(principal, "a", 1), 1)
        with pytest.raises(RateLimited, match="daily budget"):
            await service.reserve(principal, "b", 0.5)
        clock.advance(120)  # Jan 31: a new day, the same month
        await service.settle(await service.reserve(principal, "c", 0.5), 0.5)
        with pytest.raises(RateLimited, match="monthly budget") as caught:
            await service.reserve(principal, "d", 0.5)
        assert "2025-02-01T00:00:00+00:00" in caught.value.message
        clock.advance(86_400)  # Feb 1: both reset
        await service.reserve(principal, "e", 1)
        report = await service.spend(team="acme")
        lines = {(line.window.value, line.period): line for line in report.lines}
        assert lines[("day", "2025-02-01")].reserved_usd == 1
        assert lines[("month", "2025-02")].spent_usd == 0

    asyncio.run(scenario())


def test_the_per_request_cap_is_a_403() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(max_cost_per_request_usd=0.25))
        _, principal = await add_key(service)
        await service.reserve(principal, "ok", 0.25)
        with pytest.raises(PermissionDenied) as caught:
            await service.reserve(principal, "big", 0.26)
        assert caught.value.code == "max_cost_per_request_exceeded"
        assert "up to $0.26, above the $0.25 per-request cap" in caught.value.message

    asyncio.run(scenario())


def test_settle_and_release_are_idempotent() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(daily_usd=5))
        _, principal = await add_key(service)
        first = await service.reserve(principal, "r1", 1)
        await service.settle(first, 0.5)
        await service.settle(first, 0.5)
        await service.release(first)  # the `finally` after a settle: a no-op
        second = await service.reserve(principal, "r2", 1)
        await service.release(second)
        await service.settle(second, 1)  # too late: released
        line = (await service.spend(team="acme")).lines[0]
        assert (line.spent_usd, line.reserved_usd) == (0.5, 0)
        with pytest.raises(ValueError, match="fresh id"):
            await service.reserve(principal, "r1", 1)

    asyncio.run(scenario())


def test_a_crashed_replicas_reservation_expires() -> None:
    async def scenario() -> None:
        clock = FakeClock.at(JAN_31_2359)
        service = memory_service(clock, reservation_ttl_s=30)
        await add_team(service, limits=Limits(daily_usd=1))
        _, principal = await add_key(service)
        await service.reserve(principal, "never-settled", 1)
        with pytest.raises(RateLimited):
            await service.reserve(principal, "r2", 0.5)
        clock.advance(30)
        await service.reserve(principal, "r3", 1)

    asyncio.run(scenario())


def test_team_budgets_are_shared_by_the_teams_keys() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(daily_usd=1))
        _, alice = await add_key(service)
        _, bob = await add_key(service)
        await service.settle(await service.reserve(alice, "a", 0.7), 0.7)
        with pytest.raises(RateLimited, match="team 'acme' daily budget"):
            await service.reserve(bob, "b", 0.4)

    asyncio.run(scenario())


def test_anonymous_callers_are_not_metered() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        principal = await service.authenticate(None)
        reservation = await service.reserve(principal, "r1", 1000)
        assert reservation.counters == ()
        await service.settle(reservation, 1000)
        assert not (await service.budget_status(principal)).hard_exceeded

    asyncio.run(scenario())


def test_concurrent_requests_never_overspend() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(JAN_31_2359))
        await add_team(service, limits=Limits(daily_usd=2))
        _, principal = await add_key(service)
        rng = random.Random(7)

        async def one(i: int) -> None:
            try:
                reservation = await service.reserve(principal, f"r{i}", 0.1)
            except RateLimited:
                return
            await asyncio.sleep(rng.random() / 100)
            await service.settle(reservation, rng.randint(1, 10) / 100)

        await asyncio.gather(*(one(i) for i in range(200)))
        line = (await service.spend(team="acme")).lines[0]
        assert line.spent_usd <= 2 and line.reserved_usd == 0

    asyncio.run(scenario())


def test_used_share_is_the_fullest_limited_budget() -> None:
    def line(spent: float, reserved: float, limit: float | None) -> BudgetLine:
        return BudgetLine(scope=Scope.TEAM, owner="t", window=Window.DAY, period="p",
                          spent_usd=spent, reserved_usd=reserved, limit_usd=limit,
                          soft_limit_usd=None, reset_at=datetime(2026, 1, 1, tzinfo=UTC))

    def status(*lines: BudgetLine) -> BudgetStatus:
        return BudgetStatus(soft_exceeded=False, hard_exceeded=False, which=None,
                            reset_at=None, lines=lines)

    assert status().used_share is None
    assert status(line(5.0, 0.0, None)).used_share is None  # no limit: no share
    assert status(line(2.0, 1.0, 10.0), line(3.0, 0.0, 5.0)).used_share == 0.6
    assert status(line(12.0, 0.0, 10.0)).used_share == 1.0  # over the limit reads full
    assert status(line(0.0, 0.0, 0.0)).used_share == 1.0  # a zero limit is spent at once
