"""Peer-group gain targets: what the other graded models say about a strong/weak pair's prompts.

A pair's own labels are one noisy 0/1 difference per prompt. When a dataset grades more models,
the question "does this prompt need the strong model?" has a steadier answer: do the models about
as good as the strong one get it right, while those about as good as the weak one get it wrong?
The gain target is mean(strong group) - mean(weak group), in [-1, 1]; a pair head (model.py) is
a logistic regression on (1 + gain) / 2. With only the pair graded the groups are the pair itself
and the target is the plain quality difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["PeerGroups", "gain_target", "peer_groups"]

Floats = NDArray[np.float64]

# Models within 0.10 of the strong model's mean score stand in for it, those within 0.08 of the
# weak one's for the weak one (on MMLU-Pro: 5 and 13 of 31 models). Set once, not tuned.
STRONG_MARGIN = 0.10
WEAK_BAND = 0.08


@dataclass(frozen=True)
class PeerGroups:
    """The models standing in for the strong and for the weak model (each includes its model)."""

    strong: str
    weak: str
    strong_group: tuple[str, ...]
    weak_group: tuple[str, ...]


def peer_groups(
    scores: Floats,
    models: Sequence[str],
    strong: str,
    weak: str,
    *,
    strong_margin: float = STRONG_MARGIN,
    weak_band: float = WEAK_BAND,
) -> PeerGroups:
    """Group models by their mean score: near or above the strong model's, or near the weak one's.

    `scores` is (prompts x models) with NaN = unscored. Mean scores are taken over each model's
    own scored prompts; a model in both groups (a close pair) stays only with its own side.
    """
    names = list(models)
    for role, name in (("strong", strong), ("weak", weak)):
        if name not in names:
            raise ValueError(f"{role} model {name!r} has no scores; scored: {names}")
    if strong == weak:
        raise ValueError(f"strong and weak must differ; both are {strong!r}")
    scored = ~np.isnan(scores)
    means = np.where(scored, scores, 0.0).sum(axis=0) / np.maximum(scored.sum(axis=0), 1)
    mean = dict(zip(names, (float(m) for m in means), strict=True))
    strong_group = [m for m in names if mean[m] >= mean[strong] - strong_margin and m != weak]
    weak_group = [
        m for m in names if abs(mean[m] - mean[weak]) <= weak_band and m not in strong_group
    ]
    if weak not in weak_group:
        weak_group.append(weak)
    return PeerGroups(strong, weak, tuple(strong_group), tuple(weak_group))


def gain_target(scores: Floats, models: Sequence[str], groups: PeerGroups) -> Floats:
    """mean(strong group) - mean(weak group) per prompt; NaN where a group has no score."""
    names = list(models)
    return _row_mean(scores, names, groups.strong_group) - _row_mean(
        scores, names, groups.weak_group
    )


def _row_mean(scores: Floats, names: list[str], group: Sequence[str]) -> Floats:
    block = scores[:, [names.index(m) for m in group]]
    scored = ~np.isnan(block)
    counts = scored.sum(axis=1)
    sums = np.where(scored, block, 0.0).sum(axis=1)
    result: Floats = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result
