"""The `StatsStore` protocol the gateway talks to, and the factory that picks an implementation.

- `record(rec)`: after the response; O(1), never raises, never waits on I/O.
- `snapshot(task, model)`: on the request path; synchronous, from memory.
- `await get_record(id)`: for feedback and explain; None once past the retention.
- `quality_book`: `quality(task, model)` and `await add_feedback(id, score)`.
- `shares`: the running distribution of routing scores per route (score_share.py).
- `await start()` / `await close()`: background work (the Redis flusher and refresher).
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from router.settings import RedisSettings, StatsSettings
from router.stats.memory import MemoryStatsStore
from router.stats.quality import QualityBook, QualityPriors
from router.stats.records import RequestRecord
from router.stats.redis_store import RedisStatsStore
from router.stats.score_share import ShareTracker
from router.stats.window import ModelStats


class StatsStore(Protocol):
    """Per task x model stats, request records and quality, local or shared by replicas."""

    @property
    def quality_book(self) -> QualityBook: ...

    @property
    def shares(self) -> ShareTracker:
        """Recent routing scores per route, for routes that hold a strong-model share."""
        ...

    def record(self, rec: RequestRecord) -> None:
        """Account one finished request; cheap enough to call after every response."""
        ...

    def snapshot(self, task: str, model: str) -> ModelStats:
        """Stats over the sliding window; never blocks."""
        ...

    async def get_record(self, request_id: str) -> RequestRecord | None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class StoreSettings(Protocol):
    """The parts of `router.settings.Settings` the factory reads."""

    @property
    def stats(self) -> StatsSettings: ...

    @property
    def redis(self) -> RedisSettings: ...


def create_stats_store(
    settings: StoreSettings, redis: Redis | None, priors: QualityPriors
) -> StatsStore:
    """Redis-backed when a client is given (replicas share everything), in memory otherwise."""
    if redis is None:
        return MemoryStatsStore(settings.stats, priors)
    return RedisStatsStore(
        settings.stats, redis, priors, request_timeout_s=settings.redis.timeout_ms / 1000.0
    )
