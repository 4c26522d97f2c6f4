"""`junction records export`: request records with content and feedback, from a gateway's Redis.

Reads the stats store's own keys (`<prefix>:rec:<id>` and `<prefix>:vote:<source>:<id>`, see
router/stats/redis_codec.py) with SCAN, so a live gateway is not blocked. Sensitive records are
never written, nor records of excluded routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from pydantic import ValidationError
from redis.asyncio import Redis

from router.stats.records import RequestRecord
from router.stats.redis_codec import RedisKeys, as_text
from router_training.records import ExportedRecord, write_export

__all__ = ["export_from_redis", "records_in_redis"]

_SOURCES = ("user", "judge")


async def records_in_redis(redis: Redis, prefix: str) -> AsyncIterator[ExportedRecord]:
    """Every readable record under `prefix` with its feedback; malformed ones are skipped."""
    keys = RedisKeys(prefix, 1)  # the bucket width plays no part in record and vote keys
    async for key in redis.scan_iter(match=keys.record("*"), count=500):
        raw = await redis.get(key)
        if raw is None:
            continue
        try:
            record = RequestRecord.model_validate_json(raw)
        except ValidationError:
            continue
        votes = await redis.mget([keys.vote(source, record.request_id) for source in _SOURCES])
        feedback: dict[str, float] = {}
        for source, vote in zip(_SOURCES, votes, strict=True):
            if vote is not None:
                try:
                    feedback[source] = float(as_text(vote))
                except ValueError:
                    continue
        yield ExportedRecord(record=record, feedback=feedback)


def export_from_redis(
    url: str, prefix: str, out: Path, *, exclude_routes: Iterable[str] = ()
) -> int:
    """Write the export file; returns how many records it holds."""
    excluded = frozenset(exclude_routes)

    async def collect() -> list[ExportedRecord]:
        redis = Redis.from_url(url)
        try:
            return [
                line
                async for line in records_in_redis(redis, prefix)
                if line.record.route not in excluded
            ]
        finally:
            await redis.aclose()

    return write_export(out, asyncio.run(collect()))
