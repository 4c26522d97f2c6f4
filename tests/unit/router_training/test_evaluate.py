"""RouteLLM pair metrics and RouterBench AIQ against hand-computed tiny cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from router_training.evaluate import (
    aiq,
    call_performance_threshold,
    evaluate_multi,
    evaluate_pair,
    pgr_curve,
    random_baseline,
    upper_hull,
)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


@pytest.mark.parametrize(
    ("q_strong", "q_weak", "points", "apgr", "cpt50", "cpt80"),
    [
        # r_s 0.75, r_w 0.25: the oracle's two strong calls recover the whole gap at c = 0.5.
        (arr(1, 1, 1, 0), arr(0, 1, 0, 0), [(0, 0), (0.5, 1), (1, 1)], 0.75, 0.25, 0.4),
        # The weak model wins the last prompt, so keeping it there beats always-strong: PGR 2.
        (
            arr(1, 1, 0, 0),
            arr(0, 0, 0, 1),
            [(0, 0), (0.5, 2), (0.75, 2), (1, 1)],
            1.375,
            0.125,
            0.2,
        ),
    ],
)
def test_oracle_curve_and_metrics_match_hand_computation(
    q_strong: np.ndarray,
    q_weak: np.ndarray,
    points: list[tuple[float, float]],
    apgr: float,
    cpt50: float,
    cpt80: float,
) -> None:
    metrics = evaluate_pair(q_strong - q_weak, q_strong, q_weak)
    assert [p.strong_share for p in metrics.curve] == pytest.approx([c for c, _ in points])
    assert [p.pgr for p in metrics.curve] == pytest.approx([g for _, g in points])
    assert metrics.apgr == pytest.approx(apgr)
    assert metrics.cpt50 == pytest.approx(cpt50)
    assert metrics.cpt80 == pytest.approx(cpt80)


def test_a_constant_score_is_always_strong_between_the_endpoints() -> None:
    q_strong, q_weak = arr(1, 0, 1, 1), arr(0, 0, 1, 0)
    curve = pgr_curve(np.zeros(4), q_strong, q_weak)
    assert [(p.strong_share, p.pgr) for p in curve] == [(0.0, 0.0), (1.0, 1.0)]
    assert curve[-1].quality == pytest.approx(0.75)
    metrics = evaluate_pair(np.zeros(4), q_strong, q_weak)
    assert (metrics.apgr, metrics.cpt50, metrics.cpt80) == pytest.approx((0.5, 0.5, 0.8))


def test_random_routing_scores_about_half() -> None:
    # Not seeds 0-4: those are the baseline's own streams, which would correlate with the labels.
    rng = np.random.default_rng(2024)
    q_strong = (rng.random(20_000) < 0.7).astype(float)
    q_weak = (rng.random(20_000) < 0.4).astype(float)
    baseline = random_baseline(q_strong, q_weak, seeds=5)
    assert baseline.apgr == pytest.approx(0.5, abs=0.02)
    assert baseline.cpt50 == pytest.approx(0.5, abs=0.05)
    assert baseline.cpt80 == pytest.approx(0.8, abs=0.05)


def test_a_backwards_router_is_below_random() -> None:
    q_strong, q_weak = arr(1, 1, 0, 0, 1), arr(0, 0, 0, 1, 1)
    worst = evaluate_pair(q_weak - q_strong, q_strong, q_weak)
    assert worst.apgr < 0.5
    assert worst.cpt50 > 0.5


def test_cpt_is_nan_when_the_target_is_never_reached() -> None:
    metrics = evaluate_pair(arr(0.3, 0.1), arr(1, 0), arr(0, 0))
    assert math.isnan(call_performance_threshold(metrics.curve, 1.5))


def test_equal_models_have_no_pgr() -> None:
    with pytest.raises(ValueError, match="same mean quality"):
        evaluate_pair(arr(0.1, 0.2), arr(1, 0), arr(0, 1))


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same non-zero length"):
        evaluate_pair(arr(0.1, 0.2), arr(1, 0, 1), arr(0, 1))


def test_upper_hull_drops_dominated_and_concave_points() -> None:
    points = [(0.0, 0.2), (1.0, 0.3), (2.0, 0.8), (3.0, 0.7), (4.0, 0.9), (2.0, 0.5)]
    # (1, 0.3) lies under the segment (0, 0.2)-(2, 0.8); (3, 0.7) is dominated by (2, 0.8).
    assert upper_hull(points) == [(0.0, 0.2), (2.0, 0.8), (4.0, 0.9)]


def test_aiq_averages_the_hull_over_the_cost_range() -> None:
    # Hull (0, 0.2) -> (2, 0.8) -> (4, 0.9): area 1.0 + 1.7 = 2.7 over a range of 4.
    points = [(0.0, 0.2), (2.0, 0.8), (4.0, 0.9)]
    assert aiq(points, (0.0, 4.0)) == pytest.approx(2.7 / 4, abs=1e-6)
    # Beyond its last point the hull stays flat: a router never has to spend more.
    assert aiq([(0.0, 0.5), (1.0, 1.0)], (0.0, 2.0)) == pytest.approx(0.875, abs=1e-6)


def test_a_perfect_predictor_reaches_the_oracle_in_the_sweep() -> None:
    quality = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    cost = np.array([[10.0, 1.0]] * 4)
    result = evaluate_multi(quality * 0.9 + 0.05, quality, cost, ["big", "small"])
    assert result.oracle.quality == pytest.approx(0.75)
    assert result.oracle.cost == pytest.approx(3.25)  # big only where small fails and big wins
    assert (3.25, 0.75) in [(p.cost, p.quality) for p in result.router_points]
    assert result.cost_range == (1.0, 10.0)
    assert result.router_aiq > result.single_models_aiq


def test_the_random_baseline_averages_twenty_seeds_as_routellm_does() -> None:
    rng = np.random.default_rng(7)
    q_strong = (rng.random(500) < 0.7).astype(float)
    q_weak = (rng.random(500) < 0.4).astype(float)
    baseline = random_baseline(q_strong, q_weak)
    assert baseline.seeds == 20
    runs = [
        evaluate_pair(np.random.default_rng(seed).random(500), q_strong, q_weak)
        for seed in range(20)
    ]
    assert baseline.apgr == pytest.approx(float(np.mean([r.apgr for r in runs])))
