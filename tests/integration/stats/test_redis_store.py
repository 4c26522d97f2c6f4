"""Two RedisStatsStore "replicas" against a real redis-server, and what happens when it goes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from redis.asyncio import Redis

from router.errors import ServiceUnavailable
from router.settings import RedisSettings, StatsSettings
from router.stats.memory import MemoryStatsStore
from router.stats.records import Attempt, RequestRecord
from router.stats.redis_store import RedisStatsStore
from router.stats.store import create_stats_store
from tests.support.redis_server import free_port, redis_server
from tests.unit.stats.builders import FakeClock, make_record

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

PRIORS = {"code": {"local/qwen": 0.7}}


def fresh_settings(**overrides: float) -> StatsSettings:
    """A key prefix of its own, so tests sharing the session's redis-server do not mix."""
    values: dict[str, object] = {
        "key_prefix": f"test-{uuid.uuid4().hex[:8]}",
        "background_timeout_s": 0.5,
        "flush_interval_s": 0.02,
        "refresh_interval_s": 0.05,
        **overrides,
    }
    return StatsSettings.model_validate(values)


@pytest.fixture
async def client(redis_url: str, anyio_backend: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


def replica(
    settings: StatsSettings, redis: Redis, clock: FakeClock | None = None
) -> RedisStatsStore:
    return RedisStatsStore(
        settings, redis, PRIORS, request_timeout_s=0.2, clock=clock or FakeClock()
    )


def workload(prefix: str, n: int) -> list[RequestRecord]:
    return [
        make_record(f"{prefix}-{i}", total_ms=100.0 + 37 * i, ttft_ms=10.0 + i, cost_usd=0.001 * i)
        for i in range(n)
    ]


async def test_replicas_share_counts_and_percentiles(client: Redis) -> None:
    settings = fresh_settings()
    a, b = replica(settings, client), replica(settings, client)
    reference = MemoryStatsStore(settings, PRIORS, clock=FakeClock())
    failed = make_record(
        "b-failed",
        answered=False,
        attempts=[Attempt(model="local/qwen", endpoint="e", outcome="503", duration_ms=5)],
    )
    for rec in workload("a", 30):
        a.record(rec)
        reference.record(rec)
    for rec in [*workload("b", 20), failed]:
        b.record(rec)
        reference.record(rec)
    assert await a.flush() and await b.flush()
    assert await a.refresh() and await b.refresh()

    expected = reference.snapshot("code", "local/qwen")
    assert expected.requests == 51 and expected.errors == 1
    for shared in (a.snapshot("code", "local/qwen"), b.snapshot("code", "local/qwen")):
        # Cost is summed as floats in a different order; everything else must match exactly.
        assert shared.mean_cost_usd == pytest.approx(expected.mean_cost_usd)
        assert replace(shared, mean_cost_usd=expected.mean_cost_usd) == expected
    assert (await b.get_record("a-3")) == make_record(
        "a-3", total_ms=211.0, ttft_ms=13.0, cost_usd=0.003
    )
    assert await b.get_record("nope") is None


async def test_quality_feedback_is_shared_and_idempotent(client: Redis) -> None:
    settings = fresh_settings()
    a, b = replica(settings, client), replica(settings, client)
    a.record(make_record("r1"))
    await a.flush()

    first = await a.quality_book.add_feedback("r1", 1.0)
    retried = await b.quality_book.add_feedback("r1", 1.0)  # the retry lands on the other replica
    assert first == retried
    assert first.n == 1 and first.mean == pytest.approx(8 / 11)

    flipped = await b.quality_book.add_feedback("r1", 0.0)
    assert flipped.n == 1 and flipped.mean == pytest.approx(7 / 11)
    await a.refresh()
    assert a.quality_book.quality("code", "local/qwen") == flipped


async def test_a_replica_with_decoded_responses_reads_the_same(
    client: Redis, redis_url: str
) -> None:
    settings = fresh_settings()
    writer = replica(settings, client)
    writer.record(make_record("r1", time=FakeClock().now))
    await writer.flush()
    await writer.quality_book.add_feedback("r1", 1.0)
    decoded = Redis.from_url(redis_url, decode_responses=True)
    try:
        reader = replica(settings, decoded)
        assert await reader.refresh()
        assert reader.snapshot("code", "local/qwen").requests == 1
        assert reader.quality_book.quality("code", "local/qwen").n == 1
        assert (await reader.get_record("r1")) == make_record("r1")
    finally:
        await decoded.aclose()


async def test_background_tasks_carry_one_replicas_records_to_another(client: Redis) -> None:
    settings = fresh_settings()
    a, b = replica(settings, client), replica(settings, client)
    await a.start()
    await b.start()
    try:
        a.record(make_record("r1"))
        deadline = time.monotonic() + 5
        while b.snapshot("code", "local/qwen").requests == 0:
            assert time.monotonic() < deadline, "replica b never saw replica a's record"
            await asyncio.sleep(0.02)
    finally:
        await a.close()
        await b.close()


async def test_window_expires_in_redis_too(client: Redis) -> None:
    settings = fresh_settings(window_s=120, bucket_s=60)
    clock = FakeClock()
    store = replica(settings, client, clock)
    store.record(make_record("r1"))
    await store.flush()
    await store.refresh()
    assert store.snapshot("code", "local/qwen").requests == 1
    clock.advance(60)
    store.record(make_record("r2"))
    await store.flush()
    await store.refresh()
    assert store.snapshot("code", "local/qwen").requests == 2
    clock.advance(120)
    await store.refresh()
    assert store.snapshot("code", "local/qwen").requests == 0


async def test_redis_going_away_keeps_last_values(anyio_backend: str) -> None:
    settings = fresh_settings()
    with redis_server() as url:
        redis = Redis.from_url(url, socket_connect_timeout=0.2)
        store = replica(settings, redis)
        await store.start()
        store.record(make_record("before"))
        assert await store.flush()
        assert await store.refresh()
        known = store.snapshot("code", "local/qwen")
        assert known.requests == 1
    try:  # the server is stopped now
        store.record(make_record("during"))  # must not raise
        started = time.monotonic()
        assert not await store.flush()
        assert not await store.refresh()
        assert time.monotonic() - started < 2 * settings.background_timeout_s + 0.5

        started = time.perf_counter()
        assert store.snapshot("code", "local/qwen") == known
        assert time.perf_counter() - started < 0.01
        assert store.quality_book.quality("code", "local/qwen").mean == pytest.approx(0.7)

        assert (await store.get_record("during")) is not None  # still known locally
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await store.get_record("someone-elses")
        with pytest.raises(ServiceUnavailable):
            await store.quality_book.add_feedback("during", 1.0)
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(3 * settings.refresh_interval_s)  # the loops keep failing quietly
    finally:
        await store.close()
        await redis.aclose()
    assert store.dropped >= 1


async def test_nothing_listening_at_start(anyio_backend: str) -> None:
    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    store = replica(fresh_settings(), redis)
    try:
        started = time.monotonic()
        await store.start()
        assert time.monotonic() - started < 1.5
        store.record(make_record("r1"))
        assert store.snapshot("code", "local/qwen").requests == 0
    finally:
        await store.close()
        await redis.aclose()


@dataclass
class _Settings:
    stats: StatsSettings
    redis: RedisSettings


async def test_factory_picks_the_store(client: Redis) -> None:
    settings = _Settings(stats=fresh_settings(), redis=RedisSettings(timeout_ms=80))
    assert isinstance(create_stats_store(settings, None, PRIORS), MemoryStatsStore)
    assert isinstance(create_stats_store(settings, client, PRIORS), RedisStatsStore)
