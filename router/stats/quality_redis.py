"""Quality evidence in Redis, shared by every replica: one hash, updated by a Lua script.

The script makes "last vote per (source, request) wins" atomic across replicas: it swaps the
stored vote and moves alpha/beta by the difference in one step, so two replicas handling a
retried feedback call cannot both count it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import cast

from redis.asyncio import Redis

from router.errors import ServiceUnavailable
from router.stats.quality import Evidence, Vote
from router.stats.redis_codec import REDIS_FAILURES, RedisKeys, as_text, pair_field, split_field
from router.stats.window import Pair

RawHash = Mapping[bytes, bytes] | Mapping[str, str]

# KEYS: vote key, quality hash. ARGV: score, weight, vote ttl (s), field prefix "task|model|".
_APPLY_VOTE = """
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
local score = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local prefix = ARGV[4]
if previous then
  local delta = (score - tonumber(previous)) * weight
  if delta ~= 0 then
    redis.call('HINCRBYFLOAT', KEYS[2], prefix .. 'alpha', delta)
    redis.call('HINCRBYFLOAT', KEYS[2], prefix .. 'beta', -delta)
  end
else
  redis.call('HINCRBYFLOAT', KEYS[2], prefix .. 'alpha', score * weight)
  redis.call('HINCRBYFLOAT', KEYS[2], prefix .. 'beta', (1 - score) * weight)
  redis.call('HINCRBY', KEYS[2], prefix .. 'n', 1)
end
return redis.call('HMGET', KEYS[2], prefix .. 'alpha', prefix .. 'beta', prefix .. 'n')
"""


class RedisFeedbackLedger:
    """A `FeedbackLedger` in Redis; votes are remembered as long as request records."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        vote_ttl_s: int,
        request_timeout_s: float,
        background_timeout_s: float,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._vote_ttl_s = vote_ttl_s
        self._request_timeout_s = request_timeout_s
        self._background_timeout_s = background_timeout_s
        self._script = redis.register_script(_APPLY_VOTE)

    async def apply(self, vote: Vote) -> Evidence:
        """Raises `ServiceUnavailable` when Redis does not answer within the request timeout."""
        try:
            async with asyncio.timeout(self._request_timeout_s):
                reply = await self._script(
                    keys=[self._keys.vote(vote.source, vote.request_id), self._keys.quality],
                    args=[
                        repr(vote.score),
                        repr(vote.weight),
                        self._vote_ttl_s,
                        pair_field(vote.pair, ""),
                    ],
                )
        except REDIS_FAILURES as exc:
            raise ServiceUnavailable(
                "the quality store (Redis) did not answer; retry the feedback later",
                code="stats_store_unavailable",
            ) from exc
        alpha, beta, n = (as_text(v) if v is not None else "0" for v in reply)
        return Evidence(float(alpha), float(beta), int(n))

    async def load(self) -> dict[Pair, Evidence]:
        """Raises what Redis raises; the caller's refresh loop keeps the last values."""
        async with asyncio.timeout(self._background_timeout_s):
            # redis-py types commands for both clients (sync result | awaitable); this is async.
            raw = await cast(Awaitable[RawHash], self._redis.hgetall(self._keys.quality))
        fields: dict[Pair, dict[str, str]] = {}
        for name, value in raw.items():
            parsed = split_field(as_text(name))
            if parsed is not None:
                fields.setdefault(parsed[0], {})[parsed[1]] = as_text(value)
        return {
            pair: Evidence(
                float(values.get("alpha", 0.0)),
                float(values.get("beta", 0.0)),
                int(values.get("n", 0)),
            )
            for pair, values in fields.items()
        }
