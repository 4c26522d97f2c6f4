"""Fitting a router: per-model and pair-head logistic regressions on shared features.

The runtime half (`router.learned.model.RouterModel`) loads and scores what this writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from router.learned.features import FeatureConfig, extract_features
from router.learned.model import (
    ModelCard,
    PairHeadCard,
    RouterManifest,
    RouterModel,
    TrainOptions,
)
from router.learned.sparse import SparseRows
from router_training.logistic import LogisticFit, fit_logistic
from router_training.peers import PeerGroups

__all__ = ["HeadTarget", "featurise", "fit_router", "train_router"]


@dataclass(frozen=True)
class HeadTarget:
    """A pair head to fit: its peer groups and the gain target per prompt (NaN = unscored)."""

    groups: PeerGroups
    gain: NDArray[np.float64]


def featurise(
    texts: Sequence[str], config: FeatureConfig
) -> tuple[SparseRows, NDArray[np.float32]]:
    """Featurise many prompts: the hashed part as SparseRows, the dense part as a matrix."""
    features = [extract_features(text, config) for text in texts]
    x = SparseRows.from_rows([(f.indices, f.values) for f in features], config.n_buckets)
    dense = np.stack([f.dense for f in features]) if features else np.zeros((0, len(config.dense)))
    return x, dense.astype(np.float32)


def train_router(
    texts: Sequence[str],
    scores: NDArray[np.float64],
    models: Sequence[str],
    *,
    features: FeatureConfig | None = None,
    options: TrainOptions | None = None,
    heads: Sequence[HeadTarget] = (),
) -> RouterModel:
    """Fit a predictor per model and per head; `scores` is (texts x models), NaN = unscored."""
    features = features or FeatureConfig()
    if scores.shape != (len(texts), len(models)):
        raise ValueError(
            f"scores have shape {scores.shape}; expected ({len(texts)}, {len(models)})"
        )
    x, dense = featurise(texts, features)
    return fit_router(x, dense, scores, models, features=features, options=options, heads=heads)


def fit_router(
    x: SparseRows,
    dense: NDArray[np.float32],
    scores: NDArray[np.float64],
    models: Sequence[str],
    *,
    features: FeatureConfig,
    options: TrainOptions | None = None,
    heads: Sequence[HeadTarget] = (),
) -> RouterModel:
    """`train_router` for prompts already featurised with `features` (a benchmark reuses them)."""
    options = options or TrainOptions()
    if scores.shape != (x.n_rows, len(models)) or len(dense) != x.n_rows:
        raise ValueError(
            f"scores have shape {scores.shape}, dense {dense.shape}; "
            f"expected ({x.n_rows}, {len(models)}) and {x.n_rows} rows"
        )
    for head in heads:
        if head.gain.shape != (x.n_rows,):
            raise ValueError(f"a head's gain has shape {head.gain.shape}; expected ({x.n_rows},)")
        for name in (head.groups.strong, head.groups.weak):
            if name not in models:
                raise ValueError(f"pair head model {name!r} is not among the models {list(models)}")
    document_frequency = np.bincount(x.indices, minlength=x.n_cols)
    columns = np.flatnonzero(document_frequency >= options.min_df).astype(np.int32)
    mapping = np.full(x.n_cols, -1, dtype=np.int64)
    mapping[columns] = np.arange(len(columns))
    compact = x.remap_columns(mapping, len(columns))
    mean = dense.mean(axis=0, dtype=np.float64) if len(dense) else np.zeros(dense.shape[1])
    # A constant feature gets scale 1: it stays 0 after centring instead of dividing by zero.
    std = dense.std(axis=0, dtype=np.float64) if len(dense) else np.ones(dense.shape[1])
    scale = np.where(std > 1e-9, std, 1.0)
    z = np.clip((dense - mean) / scale, -options.dense_clip, options.dense_clip)

    cards: list[ModelCard] = []
    head_cards: list[PairHeadCard] = []
    n_weights = len(models) + len(heads)
    sparse_weights = np.zeros((len(columns), n_weights), dtype=np.float32)
    dense_weights = np.zeros((dense.shape[1], n_weights), dtype=np.float32)

    def fit(k: int, labels: NDArray[np.float64], what: str) -> tuple[LogisticFit, int]:
        rows = np.flatnonzero(~np.isnan(labels))
        if len(rows) == 0:
            raise ValueError(f"{what} has no scores to train on")
        result = fit_logistic(
            compact.take(rows),
            z[rows],
            labels[rows],
            l2=options.l2,
            dense_l2=options.dense_l2,
            max_iter=options.max_iter,
        )
        sparse_weights[:, k] = result.sparse
        dense_weights[:, k] = result.dense
        return result, len(rows)

    for k, model in enumerate(models):
        result, n = fit(k, scores[:, k], f"model {model!r}")
        cards.append(
            ModelCard(
                name=model,
                bias=result.bias,
                n_train=n,
                mean_score=float(np.nanmean(scores[:, k])),
                iterations=result.iterations,
            )
        )
    for i, head in enumerate(heads):
        groups = head.groups
        what = f"the pair head {groups.strong!r} over {groups.weak!r}"
        result, n = fit(len(models) + i, (1.0 + head.gain) / 2.0, what)
        head_cards.append(
            PairHeadCard(
                strong=groups.strong,
                weak=groups.weak,
                strong_group=groups.strong_group,
                weak_group=groups.weak_group,
                bias=result.bias,
                n_train=n,
                mean_gain=float(np.nanmean(head.gain)),
                iterations=result.iterations,
            )
        )
    manifest = RouterManifest(
        features=features,
        training=options,
        models=tuple(cards),
        heads=tuple(head_cards),
        dense_mean=tuple(float(v) for v in mean),
        dense_scale=tuple(float(v) for v in scale),
        n_examples=x.n_rows,
    )
    return RouterModel(manifest, columns, sparse_weights, dense_weights)
