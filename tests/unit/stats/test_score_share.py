"""The running score distribution holds a route's strong-model share as traffic shifts."""

from __future__ import annotations

import numpy as np
import pytest

from router.stats.score_share import (
    ShareSettings,
    ShareTracker,
    bucket_of,
    threshold_for_share,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_threshold_for_share_reads_the_top_of_the_histogram() -> None:
    buckets = 200
    scores = np.linspace(-0.5, 0.5, 10_001)
    counts: dict[int, int] = {}
    for s in scores:
        b = bucket_of(float(s), buckets)
        counts[b] = counts.get(b, 0) + 1
    for share in (0.1, 0.3, 0.5, 0.9):
        threshold = threshold_for_share(counts, buckets, share)
        assert threshold is not None
        assert float(np.mean(scores >= threshold)) == pytest.approx(share, abs=0.01)
    assert threshold_for_share({}, buckets, 0.3) is None


def test_out_of_range_and_nan_scores_fall_into_the_end_buckets() -> None:
    assert bucket_of(-7.0, 100) == 0
    assert bucket_of(7.0, 100) == 99
    assert bucket_of(1.0, 100) == 99
    assert bucket_of(float("nan"), 100) == 0


def test_the_target_share_holds_within_three_points_over_a_traffic_shift() -> None:
    clock = Clock()
    settings = ShareSettings(window_s=300, slot_s=30, min_samples=200)
    tracker = ShareTracker(settings, clock=clock)
    rng = np.random.default_rng(11)
    target, per_second = 0.3, 10
    # Knowledge-question-like traffic, then maths-like traffic whose scores sit much higher.
    phases = [rng.normal(-0.2, 0.08, 20 * 60 * per_second),
              rng.normal(0.25, 0.15, 20 * 60 * per_second)]
    fixed = None
    per_block: list[list[float]] = []  # 5 minutes, 3,000 requests each
    for phase, scores in enumerate(phases):
        routed: list[float] = []
        for i, score in enumerate(scores):
            clock.now += 1.0 / per_second
            view = tracker.view("r", target)
            if phase == 0 and view is not None:
                fixed = view.threshold  # what a one-off calibration on phase 0 would keep
            threshold = view.threshold if view is not None else 0.0
            routed.append(float(score >= threshold))
            tracker.observe("r", float(score))
            if (i + 1) % (5 * 60 * per_second) == 0:
                per_block.append(routed)
                routed = []
    assert fixed is not None
    # The problem: a threshold fixed on the first traffic sends nearly all of the second to
    # the strong model.
    assert float(np.mean(phases[1] >= fixed)) > 0.9
    # Every block but the one in which the shift happens (the estimate then still reads the
    # previous traffic for one window) sends the target share, within 3 points.
    first, second = per_block[:4], per_block[5:]
    for block in first + second:
        assert float(np.mean(block)) == pytest.approx(target, abs=0.03)
    assert float(np.mean(np.concatenate(second))) == pytest.approx(target, abs=0.03)
    transition = float(np.mean(per_block[4]))
    assert transition > target + 0.03  # without the estimate moving, this is what all would be


def test_too_few_scores_give_no_estimate_and_old_slots_are_forgotten() -> None:
    clock = Clock()
    tracker = ShareTracker(ShareSettings(window_s=60, slot_s=10, min_samples=5), clock=clock)
    for _ in range(4):
        tracker.observe("r", 0.5)
    assert tracker.view("r", 0.5) is None
    tracker.observe("r", 0.5)
    view = tracker.view("r", 0.5)
    assert view is not None and view.samples == 5 and view.target_share == 0.5
    clock.now += 61
    assert tracker.view("r", 0.5) is None
    assert tracker.view("unknown", 0.5) is None


def test_the_share_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from router.settings import Settings

    monkeypatch.setenv("JUNCTION_STATS__SHARES__WINDOW_S", "120")
    monkeypatch.setenv("JUNCTION_STATS__SHARES__MIN_SAMPLES", "30")
    shares = Settings().stats.shares
    assert (shares.window_s, shares.slot_s, shares.min_samples) == (120.0, 30.0, 30)
    assert ShareSettings().buckets == 1000 and ShareSettings().window_s == 300.0
