"""Replicas share the running routing-score distribution through a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from redis.asyncio import Redis

from router.settings import StatsSettings
from router.stats.redis_store import RedisStatsStore
from router.stats.score_share import ShareSettings
from tests.unit.stats.builders import FakeClock, make_record

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
async def client(redis_url: str, anyio_backend: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


def settings() -> StatsSettings:
    return StatsSettings(
        key_prefix=f"test-{uuid.uuid4().hex[:8]}",
        background_timeout_s=0.5,
        shares=ShareSettings(window_s=300, slot_s=30, min_samples=50),
    )


async def test_each_replica_holds_the_share_over_every_replicas_scores(client: Redis) -> None:
    shared, clock = settings(), FakeClock()
    a = RedisStatsStore(shared, client, {}, request_timeout_s=0.2, clock=clock)
    b = RedisStatsStore(shared, client, {}, request_timeout_s=0.2, clock=clock)
    # Replica a sees only low scores, replica b only high ones: alone, each would put the
    # threshold inside its own half.
    low, high = np.linspace(-0.9, -0.1, 40), np.linspace(0.1, 0.9, 40)
    for i, score in enumerate(low):
        a.record(make_record(f"a-{i}", route="learned", prompt_score=float(score)))
    for i, score in enumerate(high):
        b.record(make_record(f"b-{i}", route="learned", prompt_score=float(score)))
    b.record(make_record("b-unscored", route="other"))
    assert await a.flush() and await b.flush()
    assert await a.refresh() and await b.refresh()
    for store in (a, b):
        view = store.shares.view("learned", 0.25)
        assert view is not None and view.samples == 80
        # A quarter of all 80 scores lie above it: 20 of the high ones.
        assert 0.45 < view.threshold < 0.55
    assert list(b.shares.routes()) == ["learned"]


async def test_malformed_share_counts_in_redis_are_ignored(client: Redis) -> None:
    shared, clock = settings(), FakeClock()
    store = RedisStatsStore(shared, client, {}, request_timeout_s=0.2, clock=clock)
    for i in range(60):
        store.record(make_record(f"r-{i}", route="learned", prompt_score=0.5))
    assert await store.flush()
    slot = store.shares.slot()
    key = f"{shared.key_prefix}:shares:1000:30:learned:{slot}"
    await client.hset(key, mapping={"junk": "1", "-4": "9", "999999": "3", "750": "x"})
    assert await store.refresh()
    view = store.shares.view("learned", 0.5)
    assert view is not None and view.samples == 60
