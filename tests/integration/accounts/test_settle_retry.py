"""Settlements survive a Redis crash: retried until it is back, counted once, never lost."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from router.accounts import AccessService, AccountsSettings, Limits, Reservation
from router.accounts.budgets import scope_counters
from router.accounts.models import Scope
from router.app import create_app, make_redis
from router.settings import RedisSettings, Settings
from tests.integration.accounts.gateways import api_policy
from tests.integration.accounts.support import new_prefix, team_and_key
from tests.support.redis_server import free_port, redis_process

pytestmark = pytest.mark.redis


def _service(url: str, prefix: str, **accounts: Any) -> tuple[AccessService, Redis]:
    settings = Settings(redis_url=url, redis=RedisSettings(timeout_ms=300))
    client = make_redis(settings)
    assert client is not None
    accounts_settings = AccountsSettings(redis_prefix=prefix, **accounts)
    return AccessService.create(settings, client, accounts=accounts_settings), client


async def _day(access: AccessService) -> tuple[float, float]:
    line = (await access.spend(team="acme")).lines[0]
    return line.spent_usd, line.reserved_usd


def test_a_settlement_during_a_redis_crash_lands_once_after_the_restart() -> None:
    async def scenario() -> None:
        with redis_process(durable=True) as server:
            access, client = _service(server.url, new_prefix(), settle_retry_backoff_s=0.05,
                                      settle_retry_attempts=40)
            dropped: list[str] = []
            access.on_dropped_settlement(dropped.append)
            secret = await team_and_key(access, Limits(daily_usd=1.0))
            principal = await access.authenticate(f"Bearer {secret}")
            reservation = await access.reserve(principal, "req-1", 0.10)
            others = [await access.reserve(principal, f"req-{i}", 0.10) for i in (2, 3)]
            assert await _day(access) == (0.0, pytest.approx(0.30))

            server.kill()  # kill -9 while the requests are being served
            await access.settle(reservation, 0.04)  # Redis is gone: queued, not raised
            await access.release(reservation)  # the request path's finally: must not win
            for other in others:
                await access.settle(other, 0.01)
            assert access.settlements_pending == 3
            server.start()  # same port; the reservations survived in the AOF

            await access.wait_settled()  # once one lands, the others follow
            assert await _day(access) == (pytest.approx(0.06), 0.0)
            # A settlement applied again (its first reply was lost) counts once.
            await access.settle(reservation, 0.04)
            assert await _day(access) == (pytest.approx(0.06), 0.0)
            assert dropped == []
            await access.aclose()
            await client.aclose()

    asyncio.run(scenario())


def test_a_settlement_applied_twice_by_the_store_counts_once(redis_url: str) -> None:
    async def scenario() -> None:
        access, client = _service(redis_url, new_prefix())
        secret = await team_and_key(access, Limits(daily_usd=1.0))
        principal = await access.authenticate(f"Bearer {secret}")
        reservation = await access.reserve(principal, "twice", 0.10)
        store = access._store  # the retry path calls the store's finish again
        args = ("twice", reservation.counters, 40_000, 60.0)
        assert await store.finish(*args) is True
        assert await store.finish(*args) is False
        assert await _day(access) == (pytest.approx(0.04), 0.0)
        await access.aclose()
        await client.aclose()

    asyncio.run(scenario())


def test_settlements_that_cannot_land_are_dropped_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def reservations(access: AccessService, *ids: str) -> list[Reservation]:
        secret = await team_and_key(access, Limits(daily_usd=1.0))
        principal = await access.authenticate(f"Bearer {secret}")
        return [await access.reserve(principal, rid, 0.10) for rid in ids]

    async def scenario() -> tuple[list[str], list[str]]:
        with redis_process() as server:
            # A queue of one whose first retry is a minute away: the second settlement finds
            # it full; stopping the service makes one last try and gives the first up.
            full, full_client = _service(server.url, new_prefix(), settle_retry_backoff_s=60,
                                         settle_retry_queue=1)
            # Two quick retries, then given up.
            brief, brief_client = _service(server.url, new_prefix(),
                                           settle_retry_backoff_s=0.01, settle_retry_attempts=2)
            dropped_full: list[str] = []
            dropped_brief: list[str] = []
            full.on_dropped_settlement(dropped_full.append)
            brief.on_dropped_settlement(dropped_brief.append)
            first, second = await reservations(full, "first", "second")
            (third,) = await reservations(brief, "third")
            server.stop()
            await full.settle(first, 0.01)
            await full.settle(second, 0.02)
            await brief.settle(third, 0.03)
            await brief.wait_settled()
            await full.aclose()
            await brief.aclose()
            await full_client.aclose()
            await brief_client.aclose()
            return dropped_full, dropped_brief

    with caplog.at_level(logging.ERROR, logger="router.accounts.retry"):
        dropped_full, dropped_brief = asyncio.run(scenario())
    assert dropped_full == ["queue_full", "shutdown"]
    assert dropped_brief == ["attempts_exhausted"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("settlement of reservation second ($0.020000" in m and "queue_full" in m
               for m in messages)
    assert any("reservation first" in m and "shutdown" in m for m in messages)
    assert any("reservation third" in m and "attempts_exhausted" in m for m in messages)


def test_the_gateway_counts_dropped_settlements_in_its_metrics(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(api_policy("http://127.0.0.1:9"))
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(Settings(policy_file=policy, redis_url=nowhere,
                              redis=RedisSettings(timeout_ms=200),
                              accounts=AccountsSettings(settle_retry_queue=1)), environ={})
    access, metrics = app.state.access, app.state.metrics
    counters = scope_counters(Scope.TEAM, "acme", Limits(), access.now())

    async def scenario() -> None:
        await access.settle(Reservation("kept", 10, counters), 0.01)
        await access.settle(Reservation("dropped", 10, counters), 0.01)
        await app.state.redis.aclose()

    asyncio.run(scenario())
    assert metrics.registry.get_sample_value(
        "junction_settlements_dropped_total", {"reason": "queue_full"}) == 1.0
