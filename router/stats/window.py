"""Per task x model aggregates over a sliding window of fixed-width time buckets.

A record becomes `Contribution`s (one per model it touched); contributions add into the
`BucketAgg` of their time bucket; `SlidingWindow.summary` merges the buckets still inside the
window into `ModelStats`. The memory store adds contributions directly; the Redis store
replaces whole buckets with what all replicas wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from router.stats.histogram import Counts, bucket_index, empty_counts, percentile
from router.stats.records import RequestRecord

Pair = tuple[str, str]
"""(task, model)."""


@dataclass(frozen=True, slots=True)
class ModelStats:
    """How one model has done on one task over the window; zeros and None when unseen.

    `requests` counts attempts that reached the model, `errors` those that failed through the
    model's fault; latency, tokens and cost describe the `answered` requests only.
    """

    requests: int = 0
    errors: int = 0
    answered: int = 0
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    total_p50_ms: float | None = None
    total_p95_ms: float | None = None
    mean_tokens_in: float | None = None
    mean_tokens_out: float | None = None
    mean_tokens_reasoning: float | None = None
    mean_cost_usd: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one request adds to one task x model bucket."""

    task: str
    model: str
    attempts: int = 0
    errors: int = 0
    answered: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_reasoning: int = 0
    cost_usd: float = 0.0
    total_ms: float | None = None
    ttft_ms: float | None = None

    @property
    def pair(self) -> Pair:
        return self.task, self.model


def contributions(rec: RequestRecord) -> list[Contribution]:
    """Split a record by model: every model tried gets its attempts, the answering one the rest.

    Attempts skipped by an open breaker are left out: they say nothing new about the model.
    """
    task = rec.task.value
    attempts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for attempt in rec.attempts:
        if attempt.reached_model:
            attempts[attempt.model] += 1
            errors[attempt.model] += attempt.is_failure
    if rec.answered_by is not None and attempts[rec.answered_by] == 0:
        attempts[rec.answered_by] = 1  # answered without a recorded attempt (a cache, say)
    out = []
    for model, count in attempts.items():
        if model != rec.answered_by:
            out.append(Contribution(task, model, attempts=count, errors=errors[model]))
            continue
        out.append(
            Contribution(
                task,
                model,
                attempts=count,
                errors=errors[model],
                answered=1,
                tokens_in=rec.tokens_in,
                tokens_out=rec.tokens_out,
                tokens_reasoning=rec.tokens_reasoning,
                cost_usd=rec.cost_usd,
                total_ms=rec.total_ms,
                ttft_ms=rec.ttft_ms,
            )
        )
    return out


@dataclass(slots=True)
class BucketAgg:
    """Running sums for one task x model in one time bucket (mutable: it is an accumulator)."""

    attempts: int = 0
    errors: int = 0
    answered: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_reasoning: int = 0
    cost_usd: float = 0.0
    total_hist: Counts = field(default_factory=empty_counts)
    ttft_hist: Counts = field(default_factory=empty_counts)

    def add(self, c: Contribution) -> None:
        self.attempts += c.attempts
        self.errors += c.errors
        self.answered += c.answered
        self.tokens_in += c.tokens_in
        self.tokens_out += c.tokens_out
        self.tokens_reasoning += c.tokens_reasoning
        self.cost_usd += c.cost_usd
        if c.total_ms is not None:
            self.total_hist[bucket_index(c.total_ms)] += 1
        if c.ttft_ms is not None:
            self.ttft_hist[bucket_index(c.ttft_ms)] += 1

    def merge(self, other: BucketAgg) -> None:
        self.attempts += other.attempts
        self.errors += other.errors
        self.answered += other.answered
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.tokens_reasoning += other.tokens_reasoning
        self.cost_usd += other.cost_usd
        self.total_hist += other.total_hist
        self.ttft_hist += other.ttft_hist

    def to_stats(self) -> ModelStats:
        answered = self.answered
        return ModelStats(
            requests=self.attempts,
            errors=self.errors,
            answered=answered,
            ttft_p50_ms=percentile(self.ttft_hist, 0.5),
            ttft_p95_ms=percentile(self.ttft_hist, 0.95),
            total_p50_ms=percentile(self.total_hist, 0.5),
            total_p95_ms=percentile(self.total_hist, 0.95),
            mean_tokens_in=self.tokens_in / answered if answered else None,
            mean_tokens_out=self.tokens_out / answered if answered else None,
            mean_tokens_reasoning=self.tokens_reasoning / answered if answered else None,
            mean_cost_usd=self.cost_usd / answered if answered else None,
        )


_EMPTY = ModelStats()
_MAX_STALENESS_S = 0.5


class SlidingWindow:
    """The last `window_s` seconds in `bucket_s` buckets; summaries are cached per pair until
    the pair changes or the window slides, so a snapshot is usually one dict lookup."""

    def __init__(self, window_s: int, bucket_s: int) -> None:
        self._bucket_s = bucket_s
        self._span = max(window_s // bucket_s, 1)
        self._buckets: dict[int, dict[Pair, BucketAgg]] = {}
        self._versions: dict[Pair, int] = {}
        self._cache: dict[Pair, tuple[int, int, float, ModelStats]] = {}

    def bucket_of(self, now: float) -> int:
        return int(now // self._bucket_s)

    def buckets_in_window(self, now: float) -> range:
        current = self.bucket_of(now)
        return range(current - self._span + 1, current + 1)

    def add(self, now: float, contribution: Contribution) -> None:
        bucket = self.bucket_of(now)
        aggs = self._buckets.get(bucket)
        if aggs is None:
            aggs = self._buckets[bucket] = {}
            self.prune(now)
        pair = contribution.pair
        agg = aggs.get(pair)
        if agg is None:
            agg = aggs[pair] = BucketAgg()
        agg.add(contribution)
        self._versions[pair] = self._versions.get(pair, 0) + 1

    def replace(self, bucket: int, aggs: dict[Pair, BucketAgg]) -> None:
        """Swap in a whole bucket (as read from Redis)."""
        old = self._buckets.get(bucket, {})
        for pair in old.keys() | aggs.keys():
            self._versions[pair] = self._versions.get(pair, 0) + 1
        self._buckets[bucket] = aggs

    def prune(self, now: float) -> None:
        first = self.buckets_in_window(now).start
        for bucket in [b for b in self._buckets if b < first]:
            del self._buckets[bucket]

    def summary(self, pair: Pair, now: float) -> ModelStats:
        version = self._versions.get(pair)
        if version is None:
            return _EMPTY
        window = self.buckets_in_window(now)
        cached = self._cache.get(pair)
        if cached is not None and cached[0] == window.start and (
            cached[1] == version or now - cached[2] < _MAX_STALENESS_S
        ):
            # Under steady traffic the pair changes on every request; routing can use numbers
            # a fraction of a second old rather than merge histograms on every request.
            return cached[3]
        merged = BucketAgg()
        for bucket in window:
            agg = self._buckets.get(bucket, {}).get(pair)
            if agg is not None:
                merged.merge(agg)
        stats = merged.to_stats()
        self._cache[pair] = (window.start, version, now, stats)
        return stats
