import numpy as np
import pytest

from router.stats.histogram import (
    GROWTH,
    MAX_MS,
    MIN_MS,
    NUM_BUCKETS,
    bucket_bounds,
    bucket_index,
    empty_counts,
    percentile,
)


def counts_of(samples: np.ndarray) -> np.ndarray:
    counts = empty_counts()
    for value in samples:
        counts[bucket_index(float(value))] += 1
    return counts


@pytest.mark.parametrize(
    ("name", "samples"),
    [
        ("lognormal", np.random.default_rng(1).lognormal(mean=6.0, sigma=0.8, size=5_000)),
        ("uniform", np.random.default_rng(2).uniform(50, 3_000, size=2_000)),
        ("bimodal", np.concatenate([np.full(900, 40.0), np.full(100, 9_000.0)])),
        ("few", np.array([120.0, 340.0, 95.0])),
    ],
)
@pytest.mark.parametrize("q", [0.5, 0.95])
def test_percentile_within_one_bucket_of_numpy(name: str, samples: np.ndarray, q: float) -> None:
    expected = float(np.percentile(samples, q * 100))
    got = percentile(counts_of(samples), q)
    assert got is not None
    assert expected / GROWTH <= got <= expected * GROWTH, (name, expected, got)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile(empty_counts(), 0.5) is None


def test_percentile_rejects_bad_quantile() -> None:
    with pytest.raises(ValueError, match="within"):
        percentile(empty_counts(), 95)


def test_histograms_merge_by_addition() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(5, 1, 1_000), rng.lognormal(7, 0.5, 1_000)
    merged = counts_of(a) + counts_of(b)
    assert np.array_equal(merged, counts_of(np.concatenate([a, b])))


@pytest.mark.parametrize(
    ("value", "index"),
    [(0.0, 0), (0.5, 0), (float("nan"), 0), (MIN_MS, 1), (MAX_MS * 10, NUM_BUCKETS - 1)],
)
def test_bucket_index_edges(value: float, index: int) -> None:
    assert bucket_index(value) == index


def test_every_value_lies_in_its_bucket() -> None:
    for value in np.geomspace(1.0, MAX_MS * 0.99, 500):
        low, high = bucket_bounds(bucket_index(float(value)))
        assert low <= value < high * (1 + 1e-12)
