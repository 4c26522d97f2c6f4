"""The Redis layout shared by every replica: key names, and window buckets as hash fields.

One hash per time bucket, `{prefix}:stats:{bucket_s}:{bucket}`, holds every task x model seen in
it as fields `{task}|{model}|{counter}`, so replicas merge by HINCRBY and a refresh reads a bucket
with one HGETALL. Counters: att, err, ans, tin, tout, treas, cost (float), and histogram bucket
counts `lt{i}` (total latency) and `lf{i}` (time to first token). The model is the middle part,
so a model name may itself contain "|".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from redis.exceptions import RedisError

from router.stats.histogram import NUM_BUCKETS, bucket_index
from router.stats.window import BucketAgg, Contribution, Pair

logger = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, TimeoutError, OSError)
"""What a Redis call may raise when the server is slow, gone or refusing."""

_INT_COUNTERS = {
    "att": "attempts",
    "err": "errors",
    "ans": "answered",
    "tin": "tokens_in",
    "tout": "tokens_out",
    "treas": "tokens_reasoning",
}
_COST = "cost"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every key Junction's stats use, under one prefix."""

    prefix: str
    bucket_s: int

    def record(self, request_id: str) -> str:
        return f"{self.prefix}:rec:{request_id}"

    def bucket(self, bucket: int) -> str:
        # The width is part of the name: replicas configured differently must not mix counts.
        return f"{self.prefix}:stats:{self.bucket_s}:{bucket}"

    @property
    def quality(self) -> str:
        return f"{self.prefix}:quality"

    def vote(self, source: str, request_id: str) -> str:
        return f"{self.prefix}:vote:{source}:{request_id}"


def as_text(value: bytes | str) -> str:
    """Redis replies are bytes unless the client was built with decode_responses=True."""
    return value.decode() if isinstance(value, bytes) else value


def pair_field(pair: Pair, counter: str) -> str:
    return f"{pair[0]}|{pair[1]}|{counter}"


def split_field(name: str) -> tuple[Pair, str] | None:
    task, sep, rest = name.partition("|")
    model, sep2, counter = rest.rpartition("|")
    if not (sep and sep2 and task and model and counter):
        return None
    return (task, model), counter


def encode(c: Contribution) -> tuple[dict[str, int], dict[str, float]]:
    """The HINCRBY and HINCRBYFLOAT increments one contribution makes."""
    ints: dict[str, int] = {}
    for counter, attribute in _INT_COUNTERS.items():
        value: int = getattr(c, attribute)
        if value:
            ints[pair_field(c.pair, counter)] = value
    if c.total_ms is not None:
        ints[pair_field(c.pair, f"lt{bucket_index(c.total_ms)}")] = 1
    if c.ttft_ms is not None:
        ints[pair_field(c.pair, f"lf{bucket_index(c.ttft_ms)}")] = 1
    floats = {pair_field(c.pair, _COST): c.cost_usd} if c.cost_usd else {}
    return ints, floats


def decode(raw: Mapping[bytes, bytes] | Mapping[str, str]) -> dict[Pair, BucketAgg]:
    """A bucket hash back into aggregates; fields it does not understand are skipped."""
    aggs: dict[Pair, BucketAgg] = {}
    for name, value in raw.items():
        parsed = split_field(as_text(name))
        if parsed is None:
            continue
        pair, counter = parsed
        agg = aggs.get(pair)
        if agg is None:
            agg = aggs[pair] = BucketAgg()
        try:
            _apply(agg, counter, as_text(value))
        except ValueError:
            logger.warning("skipping malformed stats field %r = %r", name, value)
    return aggs


def _apply(agg: BucketAgg, counter: str, value: str) -> None:
    if counter in _INT_COUNTERS:
        setattr(agg, _INT_COUNTERS[counter], int(value))
    elif counter == _COST:
        agg.cost_usd = float(value)
    elif counter[:2] in ("lt", "lf") and counter[2:].isdigit():
        index = int(counter[2:])
        if index >= NUM_BUCKETS:
            raise ValueError(f"histogram bucket {index} beyond {NUM_BUCKETS - 1}")
        histogram = agg.total_hist if counter[1] == "t" else agg.ttft_hist
        histogram[index] = int(value)
