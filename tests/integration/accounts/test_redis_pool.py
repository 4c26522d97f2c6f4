"""The gateway's Redis client under a burst (bounded pool) and how its failures read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from router.accounts import AccessService, AccountsSettings, Limits
from router.app import make_redis
from router.errors import ServiceUnavailable
from router.settings import RedisSettings, Settings
from tests.integration.accounts.support import new_prefix, team_and_key
from tests.support.redis_server import redis_process

pytestmark = pytest.mark.redis

BOUND = 8


async def _connections_received(url: str) -> int:
    async with Redis.from_url(url) as probe:
        info: dict[str, Any] = await probe.info("stats")
        return int(info["total_connections_received"])


def _service(url: str, prefix: str, **redis: Any) -> tuple[AccessService, Redis]:
    settings = Settings(redis_url=url, redis=RedisSettings(**redis))
    client = make_redis(settings)
    assert client is not None
    return AccessService.create(
        settings, client, accounts=AccountsSettings(redis_prefix=prefix)
    ), client


def test_a_burst_opens_at_most_max_connections() -> None:
    async def scenario(redis_url: str) -> None:
        access, client = _service(redis_url, new_prefix(), max_connections=BOUND,
                                  timeout_ms=10_000)
        secret = await team_and_key(access, Limits(daily_usd=100.0, requests_per_minute=10_000))
        before = await _connections_received(redis_url)

        async def one(i: int) -> None:
            principal = await access.authenticate(f"Bearer {secret}")
            await access.check_rate_limit(principal, tokens=10)
            reservation = await access.reserve(principal, f"burst-{i}", 0.01)
            await access.settle(reservation, 0.005)

        await asyncio.gather(*(one(i) for i in range(200)))
        opened = await _connections_received(redis_url) - before - 1  # less the probe's own
        spent = (await access.spend(team="acme")).lines[0].spent_usd
        await access.aclose()
        await client.aclose()
        assert 1 <= opened <= BOUND
        assert spent == pytest.approx(200 * 0.005)

    # A server of its own: nothing else may connect while the test counts connections.
    with redis_process() as server:
        asyncio.run(scenario(server.url))


def test_a_stopped_redis_reads_unreachable_and_a_slow_one_timed_out() -> None:
    async def scenario() -> None:
        with redis_process() as server:
            prefix = new_prefix()
            access, client = _service(server.url, prefix, timeout_ms=300)
            secret = await team_and_key(access, Limits(daily_usd=1.0))
            principal = await access.authenticate(f"Bearer {secret}")

            # Slow: Redis holds every client's commands for 3 s, longer than the 300 ms wait.
            async with Redis.from_url(server.url) as other:
                await other.execute_command("CLIENT", "PAUSE", "3000", "ALL")
                with pytest.raises(ServiceUnavailable) as slow:
                    await access.reserve(principal, "slow", 0.01)
                with pytest.raises(ServiceUnavailable) as slow_auth:
                    await access.authenticate(f"Bearer {secret}")
                await other.execute_command("CLIENT", "UNPAUSE")
            assert slow.value.message.startswith("Timed out waiting for Redis (300 ms)")
            assert "unreachable" not in slow.value.message
            assert slow.value.code == "store_unavailable" and slow.value.status_code == 503
            assert slow_auth.value.message == (
                "Timed out waiting for Redis (300 ms), so API keys cannot be checked.")

            server.stop()
            # Connections still pooled learn that the server closed them ("Connection closed
            # by server."); once they are gone, a new one is refused.
            messages = []
            while not messages or "connection refused" not in messages[-1]:
                assert len(messages) <= 64, messages  # at most one per pooled connection
                with pytest.raises(ServiceUnavailable) as down:
                    await access.reserve(principal, f"down-{len(messages)}", 0.01)
                messages.append(down.value.message)
            for message in messages:
                assert message.startswith("Redis is unreachable (")
                assert "Timed out" not in message
                assert "JUNCTION_REDIS__FAIL_OPEN_BUDGETS" in message
            assert messages[-1].startswith("Redis is unreachable (connection refused")
            await access.aclose()
            await client.aclose()

    asyncio.run(scenario())
