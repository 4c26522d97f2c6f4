"""Choose the strong/weak threshold on a calibration set, for a target strong share or PGR.

The score distribution moves with the traffic, so a threshold is only meaningful for data like
the calibration set: calibrate on prompts that look like production, and recalibrate when they
change.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from router.learned.model import Calibration

__all__ = ["threshold_for_pgr", "threshold_for_share"]

Floats = NDArray[np.float64]


def threshold_for_share(
    scores: Floats,
    strong: str,
    weak: str,
    share: float,
    *,
    q_strong: Floats | None = None,
    q_weak: Floats | None = None,
) -> Calibration:
    """The threshold sending about `share` of these prompts to the strong model (ties add more)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"strong share must be within [0, 1]; got {share}")
    ordered = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    if len(ordered) == 0:
        raise ValueError("calibration needs at least one prompt")
    calls = math.ceil(share * len(ordered))
    # Nothing scores above +inf, so share 0 sends nothing to the strong model.
    threshold = float(ordered[calls - 1]) if calls > 0 else math.inf
    return _calibration(scores, strong, weak, threshold, "strong_share", share, q_strong, q_weak)


def threshold_for_pgr(
    scores: Floats, q_strong: Floats, q_weak: Floats, strong: str, weak: str, target: float
) -> Calibration:
    """The highest threshold (fewest strong calls) whose PGR on this set reaches `target`."""
    scores = np.asarray(scores, dtype=np.float64)
    gap = float(q_strong.mean() - q_weak.mean())
    if gap == 0:
        raise ValueError("PGR is undefined: both models have the same mean quality here")
    order = np.argsort(-scores, kind="stable")
    gained = np.cumsum((q_strong - q_weak)[order]) / len(scores)
    sorted_scores = scores[order]
    # Only the last prompt of a run of tied scores is a valid cut: a threshold takes all ties.
    cuts = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))
    reaching = cuts[gained[cuts] / gap >= target]
    if len(reaching) == 0:
        raise ValueError(
            f"no threshold reaches PGR {target} on this set; the best is "
            f"{float(np.max(gained[cuts] / gap)):.3f}"
        )
    threshold = float(sorted_scores[reaching[0]])
    return _calibration(scores, strong, weak, threshold, "pgr", target, q_strong, q_weak)


def _calibration(
    scores: Floats,
    strong: str,
    weak: str,
    threshold: float,
    target: str,
    value: float,
    q_strong: Floats | None,
    q_weak: Floats | None,
) -> Calibration:
    routed = scores >= threshold
    pgr: float | None = None
    if q_strong is not None and q_weak is not None:
        # PGR needs both qualities; prompts missing either (NaN) are left out of it.
        both = ~(np.isnan(q_strong) | np.isnan(q_weak))
        s, w = q_strong[both], q_weak[both]
        gap = float(s.mean() - w.mean()) if both.any() else 0.0
        if gap != 0:
            quality = float(np.where(routed[both], s, w).mean())
            pgr = (quality - float(w.mean())) / gap
    return Calibration(
        strong=strong,
        weak=weak,
        threshold=threshold,
        target=target,
        target_value=value,
        strong_share=float(routed.mean()),
        pgr=pgr,
        n=len(scores),
    )
