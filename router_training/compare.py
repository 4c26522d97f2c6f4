"""`junction router compare`: a candidate router next to the active one on recorded traffic.

Recorded traffic knows the quality of only the model that answered each prompt, so the curve
is a replay estimate: at each threshold, the quality of the records whose answering model is
the one the router would have chosen. Exploration answered prompts with either model whatever
the router said, which is what makes this estimate fair; with little exploration the records
of one model dominate and the estimate is noisy (the matched counts are printed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from router_training.evaluate import CurvePoint, apgr, call_performance_threshold

__all__ = ["ReplayResult", "replay"]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class ReplayResult:
    """APGR and CPT from a replay of recorded outcomes, and the share at the threshold."""

    apgr: float
    cpt50: float
    cpt80: float
    strong_share: float | None
    matched: int
    curve: tuple[CurvePoint, ...]

    def summary(self) -> dict[str, float | int | None]:
        return {
            "apgr": self.apgr,
            "cpt50": self.cpt50,
            "cpt80": self.cpt80,
            "strong_share": self.strong_share,
            "matched_at_threshold": self.matched,
        }


def replay(
    scores: Floats,
    by_strong: NDArray[np.bool_],
    quality: Floats,
    *,
    threshold: float | None,
    n_bins: int = 10,
) -> ReplayResult:
    """The replay curve over the deciles of `scores` for records answered by strong or weak."""
    if not (len(scores) == len(by_strong) == len(quality)) or len(scores) == 0:
        raise ValueError(
            f"scores, answering models and qualities need the same non-zero length; got "
            f"{len(scores)}, {len(by_strong)}, {len(quality)}"
        )
    if by_strong.all() or not by_strong.any():
        raise ValueError(
            "the records hold answers from only one of the two models: nothing to compare "
            "(turn exploration on for the route to record both)"
        )
    r_strong, r_weak = float(quality[by_strong].mean()), float(quality[~by_strong].mean())
    gap = r_strong - r_weak
    if gap == 0:
        raise ValueError(f"the strong and weak models have the same recorded quality ({r_strong})")
    points = {0.0: CurvePoint(0.0, r_weak, 0.0, None), 1.0: CurvePoint(1.0, r_strong, 1.0, None)}
    for t in np.quantile(scores, np.linspace(0.0, 1.0, n_bins + 1)):
        routed_strong = scores >= t
        matched = routed_strong == by_strong
        share = float(routed_strong.mean())
        if not matched.any():
            continue
        q = float(quality[matched].mean())
        points.setdefault(share, CurvePoint(share, q, (q - r_weak) / gap, float(t)))
    curve = tuple(points[c] for c in sorted(points))
    at_threshold = None if threshold is None else float((scores >= threshold).mean())
    matched_n = 0 if threshold is None else int(((scores >= threshold) == by_strong).sum())
    return ReplayResult(
        apgr(curve),
        call_performance_threshold(curve, 0.5),
        call_performance_threshold(curve, 0.8),
        at_threshold,
        matched_n,
        curve,
    )


def strong_mask(answered: Sequence[str], strong: str, weak: str) -> NDArray[np.bool_]:
    """Which records the strong model answered; records of other models must be left out."""
    unknown = sorted(set(answered) - {strong, weak})
    if unknown:
        raise ValueError(f"records answered by {unknown}: keep only {strong!r} and {weak!r}")
    return np.array([a == strong for a in answered], dtype=bool)
