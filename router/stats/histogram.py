"""Fixed log-spaced latency buckets: percentiles without raw samples, mergeable by addition.

Every replica must use the same bounds, or adding their counters in Redis would mix apples and
pears; that is why the bounds are constants and not settings. With four buckets per doubling a
percentile read off the counts is within one bucket, i.e. at most ~19% of the true value.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

MIN_MS = 1.0
MAX_MS = 600_000.0
GROWTH = 2.0**0.25
_FINITE = math.ceil(math.log(MAX_MS / MIN_MS) / math.log(GROWTH))
NUM_BUCKETS = _FINITE + 2
"""Bucket 0 holds [0, MIN_MS); bucket i in 1.._FINITE holds [MIN_MS*G^(i-1), MIN_MS*G^i);
the last one holds everything beyond."""

Counts = npt.NDArray[np.int64]


def empty_counts() -> Counts:
    return np.zeros(NUM_BUCKETS, dtype=np.int64)


def bucket_index(value_ms: float) -> int:
    """The bucket a duration falls in: O(1), one logarithm."""
    if not value_ms >= MIN_MS:  # also catches NaN
        return 0
    index = int(math.log(value_ms / MIN_MS) / math.log(GROWTH)) + 1
    return min(index, NUM_BUCKETS - 1)


def bucket_bounds(index: int) -> tuple[float, float]:
    """The [low, high) range of a bucket; the overflow bucket reports its low bound twice."""
    if index <= 0:
        return 0.0, MIN_MS
    low = MIN_MS * GROWTH ** (index - 1)
    if index >= NUM_BUCKETS - 1:
        return low, low
    return low, MIN_MS * GROWTH**index


def percentile(counts: Counts, q: float) -> float | None:
    """The q-quantile (0..1) of the samples counted, or None with no samples.

    Like numpy's default, it interpolates linearly between the two order statistics around
    q * (n - 1); each order statistic is placed inside its bucket geometrically, since samples
    in a log-spaced bucket are closer to log-uniform than uniform.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    total = int(counts.sum())
    if total == 0:
        return None
    cumulative = np.cumsum(counts)
    position = q * (total - 1)
    below = math.floor(position)
    low_value = _order_statistic(counts, cumulative, below)
    if below + 1 >= total:
        return low_value
    high_value = _order_statistic(counts, cumulative, below + 1)
    return low_value + (position - below) * (high_value - low_value)


def _order_statistic(counts: Counts, cumulative: Counts, k: int) -> float:
    """An estimate of the k-th smallest sample (0-based)."""
    index = int(np.searchsorted(cumulative, k, side="right"))
    before = int(cumulative[index - 1]) if index > 0 else 0
    fraction = (k - before + 0.5) / int(counts[index])
    low, high = bucket_bounds(index)
    if index == 0:
        return low + (high - low) * fraction
    return float(low * (high / low) ** fraction)
