"""Offline routing metrics: RouteLLM's APGR / CPT for a strong/weak pair, RouterBench's AIQ.

Pair procedure (RouteLLM, as in the data README): with qualities q_s, q_w and router scores s
(higher = needs the strong model more), sweep thresholds t over the deciles of s, route i to the
strong model when s[i] >= t, and record c (strong share) and r (mean quality). PGR is
(r - r_w) / (r_s - r_w). The curve gets both endpoints, (0, 0) = always weak and (1, 1) = always
strong; APGR is its trapezoid area over sorted c, and CPT(x) the smallest c where PGR reaches x,
interpolated linearly between swept points (as RouteLLM's `np.interp` does).

Multi-model (RouterBench): a willingness-to-pay sweep gives (mean cost, mean quality) points;
AIQ is the area under their non-decreasing upper convex hull, divided by the cost range from the
cheapest to the dearest single model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CostQualityPoint",
    "CurvePoint",
    "MultiModelResult",
    "PairMetrics",
    "RandomBaseline",
    "aiq",
    "apgr",
    "call_performance_threshold",
    "evaluate_multi",
    "evaluate_pair",
    "pgr_curve",
    "random_baseline",
    "upper_hull",
]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class CurvePoint:
    """One operating point: share of strong calls, mean quality, PGR (threshold None = endpoint)."""

    strong_share: float
    quality: float
    pgr: float
    threshold: float | None


@dataclass(frozen=True)
class PairMetrics:
    """APGR, CPT(50%), CPT(80%) and the curve they were computed from."""

    apgr: float
    cpt50: float
    cpt80: float
    curve: tuple[CurvePoint, ...]

    def summary(self) -> dict[str, float]:
        return {"apgr": self.apgr, "cpt50": self.cpt50, "cpt80": self.cpt80}


@dataclass(frozen=True)
class RandomBaseline:
    """Random routing averaged over seeds, with one seed's curve kept for plotting."""

    apgr: float
    cpt50: float
    cpt80: float
    seeds: int
    curve: tuple[CurvePoint, ...]

    def summary(self) -> dict[str, float]:
        return {"apgr": self.apgr, "cpt50": self.cpt50, "cpt80": self.cpt80}


def pgr_curve(
    scores: Floats, q_strong: Floats, q_weak: Floats, n_bins: int = 10
) -> tuple[CurvePoint, ...]:
    """The threshold sweep over the quantiles of `scores` (deciles by default), sorted by c."""
    scores, q_strong, q_weak = _check(scores, q_strong, q_weak)
    r_strong, r_weak = float(q_strong.mean()), float(q_weak.mean())
    gap = r_strong - r_weak
    if gap == 0:
        raise ValueError(
            f"PGR is undefined: the strong and weak models have the same mean quality ({r_strong})"
        )
    points = {0.0: CurvePoint(0.0, r_weak, 0.0, None), 1.0: CurvePoint(1.0, r_strong, 1.0, None)}
    for threshold in np.quantile(scores, np.linspace(0.0, 1.0, n_bins + 1)):
        strong = scores >= threshold
        share = float(strong.mean())
        quality = float(np.where(strong, q_strong, q_weak).mean())
        # Thresholds with the same share route the same prompts, so the first one stands for all;
        # the endpoints stay as defined (their quality is exact, not re-derived).
        points.setdefault(share, CurvePoint(share, quality, (quality - r_weak) / gap, threshold))
    return tuple(points[c] for c in sorted(points))


def apgr(curve: Sequence[CurvePoint]) -> float:
    """Area under PGR over strong share, trapezoid rule over the sorted curve."""
    c = np.array([p.strong_share for p in curve])
    g = np.array([p.pgr for p in curve])
    return float(np.sum((c[1:] - c[:-1]) * (g[1:] + g[:-1]) / 2.0))


def call_performance_threshold(curve: Sequence[CurvePoint], target: float) -> float:
    """Smallest strong share at which PGR reaches `target`, linear between points; NaN if never."""
    for before, point in pairwise(curve):
        if before.pgr >= target:
            return before.strong_share
        if point.pgr >= target:
            fraction = (target - before.pgr) / (point.pgr - before.pgr)
            return before.strong_share + fraction * (point.strong_share - before.strong_share)
    return float("nan")


def evaluate_pair(scores: Floats, q_strong: Floats, q_weak: Floats) -> PairMetrics:
    """APGR, CPT(50%) and CPT(80%) of a router's scores."""
    curve = pgr_curve(scores, q_strong, q_weak)
    return PairMetrics(
        apgr(curve),
        call_performance_threshold(curve, 0.5),
        call_performance_threshold(curve, 0.8),
        curve,
    )


def random_baseline(q_strong: Floats, q_weak: Floats, seeds: int = 20) -> RandomBaseline:
    """Random routing (uniform scores), metrics averaged over `seeds` fixed seeds.

    20 seeds, as RouteLLM's evaluation averages its random router.
    """
    runs = [
        evaluate_pair(np.random.default_rng(seed).random(len(q_strong)), q_strong, q_weak)
        for seed in range(seeds)
    ]
    return RandomBaseline(
        float(np.mean([r.apgr for r in runs])),
        float(np.mean([r.cpt50 for r in runs])),
        float(np.mean([r.cpt80 for r in runs])),
        seeds,
        runs[0].curve,
    )


@dataclass(frozen=True)
class CostQualityPoint:
    """Mean cost (dollars per prompt) and mean quality of one routing policy."""

    cost: float
    quality: float
    label: str


@dataclass(frozen=True)
class MultiModelResult:
    """The router's sweep with its AIQ, beside single models, their hull and the oracle."""

    router_points: tuple[CostQualityPoint, ...]
    router_aiq: float
    model_points: tuple[CostQualityPoint, ...]
    single_models_aiq: float
    oracle: CostQualityPoint
    cost_range: tuple[float, float]


def upper_hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-decreasing upper convex hull of (cost, quality) points, by increasing cost.

    Dominated points drop out: spending more never buys less, because a router can always
    mix the two policies at either end of a segment.
    """
    best: dict[float, float] = {}
    for cost, quality in points:
        best[cost] = max(quality, best.get(cost, -np.inf))
    hull: list[tuple[float, float]] = []
    for cost, quality in sorted(best.items()):
        if hull and quality <= hull[-1][1]:
            continue  # dominated: the hull already reaches this quality more cheaply
        while len(hull) >= 2 and _turns_left_or_straight(hull[-2], hull[-1], (cost, quality)):
            hull.pop()
        hull.append((cost, quality))
    return hull


def aiq(points: Sequence[tuple[float, float]], cost_range: tuple[float, float]) -> float:
    """Average quality of the hull over `cost_range` (flat beyond its first and last points)."""
    low, high = cost_range
    hull = upper_hull(points)
    if high <= low:
        return hull[-1][1]
    grid = np.linspace(low, high, 2001)
    values = np.interp(grid, [c for c, _ in hull], [q for _, q in hull])
    return float(np.sum((grid[1:] - grid[:-1]) * (values[1:] + values[:-1]) / 2.0) / (high - low))


def evaluate_multi(
    predicted: Floats,
    quality: Floats,
    cost: Floats,
    models: Sequence[str],
    *,
    sweep: int = 81,
) -> MultiModelResult:
    """Sweep willingness to pay: each prompt goes to argmax_k p[i, k] - lambda * price[k].

    `price[k]` is model k's mean cost over the data (what a gateway knows before the call: a
    price list and typical output length); realised cost and quality are the per-prompt ones.
    """
    if not (predicted.shape == quality.shape == cost.shape == (len(quality), len(models))):
        raise ValueError(
            f"shapes differ: predicted {predicted.shape}, quality {quality.shape}, "
            f"cost {cost.shape}, models {len(models)}"
        )
    if np.isnan(quality).any() or np.isnan(cost).any():
        raise ValueError("every prompt needs a quality and a cost for every model compared")
    price = cost.mean(axis=0)
    rows = np.arange(len(quality))
    scale = float(np.median(price[price > 0])) if (price > 0).any() else 1.0
    # Willingness to pay runs from "quality at any price" (0) to "cheapest model only" (inf);
    # a log grid covers every switching point between models whose prices differ by ~10^4.
    lambdas = np.concatenate(([0.0], np.logspace(-4, 4, sweep) / scale, [np.inf]))
    router_points = []
    for lam in lambdas:
        if np.isinf(lam):
            choice = np.full(len(rows), int(np.argmin(price)))
        else:
            choice = np.argmax(predicted - lam * price[None, :], axis=1)
        router_points.append(
            CostQualityPoint(
                float(cost[rows, choice].mean()),
                float(quality[rows, choice].mean()),
                f"wtp={1.0 / lam if lam > 0 else np.inf:.3g}",
            )
        )
    model_points = tuple(
        CostQualityPoint(float(price[k]), float(quality[:, k].mean()), model)
        for k, model in enumerate(models)
    )
    cost_range = (float(price.min()), float(price.max()))
    # Oracle: the best quality for each prompt, the cheapest model among those reaching it.
    best = quality.max(axis=1, keepdims=True)
    oracle_choice = np.argmin(np.where(quality >= best, cost, np.inf), axis=1)
    oracle = CostQualityPoint(float(cost[rows, oracle_choice].mean()), float(best.mean()), "oracle")
    return MultiModelResult(
        router_points=tuple(router_points),
        router_aiq=aiq([(p.cost, p.quality) for p in router_points], cost_range),
        model_points=model_points,
        single_models_aiq=aiq([(p.cost, p.quality) for p in model_points], cost_range),
        oracle=oracle,
        cost_range=cost_range,
    )


def _turns_left_or_straight(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> bool:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return cross >= 0


def _check(scores: Floats, q_strong: Floats, q_weak: Floats) -> tuple[Floats, Floats, Floats]:
    arrays = [np.asarray(a, dtype=np.float64) for a in (scores, q_strong, q_weak)]
    if len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
        raise ValueError(
            f"scores, strong and weak qualities need the same non-zero length; got "
            f"{[len(a) for a in arrays]}"
        )
    if any(np.isnan(a).any() for a in arrays):
        raise ValueError("scores and qualities must not contain NaN")
    return arrays[0], arrays[1], arrays[2]
