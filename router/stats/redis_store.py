"""The stats store shared by all replicas through Redis, never waited on by a request.

`record()` only appends to a local queue; a flusher task writes the queue in batches (one
pipeline per batch, increments pre-summed per field). A refresher task pulls the window's
buckets and the quality evidence every `refresh_interval_s` into local caches, which
`snapshot()` and `quality()` read synchronously. When Redis is slow or gone, both tasks log
once, keep the last values and try again; queued records beyond `queue_max` are dropped.

A bucket is re-read until it has been closed for a full bucket (replicas flush within a
fraction of a second), then it is settled and never fetched again, so a refresh costs about two
HGETALLs however long the window is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from router.errors import ServiceUnavailable
from router.settings import StatsSettings
from router.stats.quality import QualityBook, QualityPriors
from router.stats.quality_redis import RedisFeedbackLedger
from router.stats.records import RequestRecord
from router.stats.redis_codec import REDIS_FAILURES, RedisKeys, as_text, decode, encode
from router.stats.score_share import ShareTracker, bucket_of
from router.stats.window import ModelStats, SlidingWindow, contributions

logger = logging.getLogger(__name__)

# Records kept locally so feedback right after a response (before the flush) or during a Redis
# outage still finds its request on this replica.
_RECENT_RECORDS = 2_000  # covers the flush interval many times over; models are several KB each


class RedisStatsStore:
    """Stats, records and quality in Redis, cached locally; the caller owns the client."""

    def __init__(
        self,
        settings: StatsSettings,
        redis: Redis,
        priors: QualityPriors,
        *,
        request_timeout_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._request_timeout_s = request_timeout_s
        self._clock = clock
        self._keys = RedisKeys(settings.key_prefix, settings.bucket_s)
        self._window = SlidingWindow(settings.window_s, settings.bucket_s)
        self._settled: set[int] = set()
        self._queue: deque[tuple[float, RequestRecord]] = deque()
        self._recent: OrderedDict[str, RequestRecord] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._failing: set[str] = set()
        self.dropped = 0
        """Records lost: queue overflow, or a batch Redis did not accept."""
        self.shares = ShareTracker(settings.shares, clock=clock)
        self.quality_book = QualityBook(
            priors,
            settings,
            self,
            RedisFeedbackLedger(
                redis,
                self._keys,
                vote_ttl_s=settings.record_retention_s,
                request_timeout_s=request_timeout_s,
                background_timeout_s=settings.background_timeout_s,
            ),
        )

    def record(self, rec: RequestRecord) -> None:
        """O(1): queue it for the flusher; the oldest queued record goes if the queue is full."""
        if len(self._queue) >= self._settings.queue_max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append((self._clock(), rec))
        if rec.prompt_score is not None:
            # Counted here at once; the next refresh replaces it with every replica's total.
            self.shares.observe(rec.route, rec.prompt_score)
        self._recent[rec.request_id] = rec
        self._recent.move_to_end(rec.request_id)
        if len(self._recent) > min(_RECENT_RECORDS, self._settings.memory_max_records):
            self._recent.popitem(last=False)

    def snapshot(self, task: str, model: str) -> ModelStats:
        """From the local cache: as fresh as the last successful refresh."""
        return self._window.summary((str(task), model), self._clock())

    async def get_record(self, request_id: str) -> RequestRecord | None:
        """Raises `ServiceUnavailable` if Redis does not answer within the request timeout."""
        rec = self._recent.get(request_id)
        if rec is not None:
            fresh = self._clock() - rec.time <= self._settings.record_retention_s
            return rec if fresh else None
        try:
            async with asyncio.timeout(self._request_timeout_s):
                raw = await self._redis.get(self._keys.record(request_id))
        except REDIS_FAILURES as exc:
            raise ServiceUnavailable(
                "the stats store (Redis) did not answer; retry later",
                code="stats_store_unavailable",
            ) from exc
        if raw is None:
            return None
        try:
            return RequestRecord.model_validate_json(raw)
        except ValidationError:
            logger.warning("request record %r in Redis is malformed; ignoring it", request_id)
            return None

    async def flush(self) -> bool:
        """Write everything queued, a batch per pipeline; False if Redis failed (batch lost)."""
        while self._queue:
            batch = [
                self._queue.popleft()
                for _ in range(min(len(self._queue), self._settings.flush_batch))
            ]
            if not await self._guard("flush", self._write(batch)):
                self.dropped += len(batch)
                return False
        return True

    async def refresh(self) -> bool:
        """Pull the window's unsettled buckets and all quality evidence; False if Redis failed."""
        stats_ok = await self._guard("refresh", self._pull_buckets())
        stats_ok = await self._guard("score refresh", self._pull_shares()) and stats_ok
        quality_ok = await self._guard("quality refresh", self.quality_book.refresh())
        return stats_ok and quality_ok

    async def start(self) -> None:
        """Load what other replicas know, then start the flusher and the refresher."""
        if self._tasks:
            return
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._every(self._settings.flush_interval_s, self.flush)),
            asyncio.create_task(self._every(self._settings.refresh_interval_s, self.refresh)),
        ]

    async def close(self) -> None:
        """Stop the tasks and flush what is queued (bounded by the background timeout)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _write(self, batch: list[tuple[float, RequestRecord]]) -> None:
        ints: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        floats: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        pipe = self._redis.pipeline(transaction=False)
        for at, rec in batch:
            key = self._keys.bucket(self._window.bucket_of(at))
            for contribution in contributions(rec):
                add_ints, add_floats = encode(contribution)
                for name, amount in add_ints.items():
                    ints[key][name] += amount
                for name, value in add_floats.items():
                    floats[key][name] += value
            pipe.set(
                self._keys.record(rec.request_id),
                rec.model_dump_json(),
                ex=self._settings.record_retention_s,
            )
        for key, counters in ints.items():
            for name, amount in counters.items():
                pipe.hincrby(key, name, amount)
        for key, values in floats.items():
            for name, value in values.items():
                pipe.hincrbyfloat(key, name, value)
        ttl = self._settings.window_s + 2 * self._settings.bucket_s
        for key in ints.keys() | floats.keys():
            pipe.expire(key, ttl)
        self._write_shares(pipe, batch)
        async with asyncio.timeout(self._settings.background_timeout_s):
            await pipe.execute()

    async def _pull_buckets(self) -> None:
        now = self._clock()
        window = self._window.buckets_in_window(now)
        wanted = [b for b in window if b not in self._settled]
        pipe = self._redis.pipeline(transaction=False)
        for bucket in wanted:
            pipe.hgetall(self._keys.bucket(bucket))
        async with asyncio.timeout(self._settings.background_timeout_s):
            replies = await pipe.execute()
        settled_below = window.stop - 2  # closed for at least one full bucket
        for bucket, raw in zip(wanted, replies, strict=True):
            self._window.replace(bucket, decode(raw))
            if bucket < settled_below:
                self._settled.add(bucket)
        self._settled = {b for b in self._settled if b >= window.start}
        self._window.prune(now)

    def _share_key(self, route: str, slot: int) -> str:
        shares = self._settings.shares
        # Bucket count and slot width are in the name: differently configured replicas must
        # not add up counts of different buckets.
        layout = f"{shares.buckets}:{shares.slot_s:g}"
        return f"{self._settings.key_prefix}:shares:{layout}:{route}:{slot}"

    def _write_shares(self, pipe: Any, batch: list[tuple[float, RequestRecord]]) -> None:
        shares = self._settings.shares
        counts: defaultdict[str, Counter[int]] = defaultdict(Counter)
        for at, rec in batch:
            if rec.prompt_score is not None:
                key = self._share_key(rec.route, self.shares.slot(at))
                counts[key][bucket_of(rec.prompt_score, shares.buckets)] += 1
        for key, buckets in counts.items():
            for bucket, amount in buckets.items():
                pipe.hincrby(key, str(bucket), amount)
            pipe.expire(key, int(shares.window_s + 2 * shares.slot_s) + 1)

    async def _pull_shares(self) -> None:
        wanted = [(r, s) for r in self.shares.routes() for s in self.shares.recent_slots()]
        if not wanted:
            return
        pipe = self._redis.pipeline(transaction=False)
        for route, slot in wanted:
            pipe.hgetall(self._share_key(route, slot))
        async with asyncio.timeout(self._settings.background_timeout_s):
            replies = await pipe.execute()
        for (route, slot), raw in zip(wanted, replies, strict=True):
            counts = _bucket_counts(raw, self._settings.shares.buckets)
            if counts:
                self.shares.replace_slot(route, slot, counts)

    async def _guard(self, what: str, work: Awaitable[None]) -> bool:
        """Run one Redis round; log a failure once and the recovery once, never raise."""
        try:
            await work
        except REDIS_FAILURES as exc:
            if what not in self._failing:
                self._failing.add(what)
                logger.warning("stats %s failed, keeping last values: %r", what, exc)
            return False
        if what in self._failing:
            self._failing.discard(what)
            logger.info("stats %s recovered", what)
        return True

    @staticmethod
    async def _every(interval_s: float, step: Callable[[], Awaitable[bool]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await step()
            except Exception:  # a bug must not silently end the loop for good
                logger.exception("stats background step failed")


def _bucket_counts(raw: dict[Any, Any], buckets: int) -> dict[int, int]:
    """A shares hash from Redis, untrusted: fields that are not bucket counts are dropped."""
    counts: dict[int, int] = {}
    for field, value in raw.items():
        try:
            bucket, count = int(as_text(field)), int(as_text(value))
        except ValueError:
            continue
        if 0 <= bucket < buckets and count > 0:
            counts[bucket] = count
    return counts
