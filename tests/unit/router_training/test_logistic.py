"""Sparse rows and the L-BFGS logistic regression against dense numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from router.learned.sparse import SparseRows
from router_training.logistic import fit_logistic, minimize_lbfgs, sigmoid


def random_rows(rng: np.random.Generator, n: int, n_cols: int) -> tuple[SparseRows, np.ndarray]:
    dense = np.zeros((n, n_cols))
    rows = []
    for i in range(n):
        # Some rows are empty on purpose: they must contribute exactly zero.
        width = int(rng.integers(0, 5))
        idx = np.sort(rng.choice(n_cols, size=width, replace=False)).astype(np.int32)
        val = rng.normal(size=width).astype(np.float32)
        dense[i, idx] = val
        rows.append((idx, val))
    return SparseRows.from_rows(rows, n_cols), dense


def test_products_match_dense_numpy() -> None:
    rng = np.random.default_rng(0)
    x, dense = random_rows(rng, 40, 12)
    w, g = rng.normal(size=12), rng.normal(size=40)
    assert x.matvec(w) == pytest.approx(dense @ w, abs=1e-5)
    assert x.rmatvec(g) == pytest.approx(dense.T @ g, abs=1e-5)


def test_take_and_remap_columns_match_dense_numpy() -> None:
    rng = np.random.default_rng(1)
    x, dense = random_rows(rng, 30, 10)
    rows = np.array([5, 0, 29, 5, 17])
    taken = x.take(rows)
    w = rng.normal(size=10)
    assert taken.matvec(w) == pytest.approx(dense[rows] @ w, abs=1e-5)
    keep = np.array([0, 3, 4, 9])
    mapping = np.full(10, -1)
    mapping[keep] = np.arange(4)
    remapped = x.remap_columns(mapping, 4)
    assert remapped.matvec(w[keep]) == pytest.approx(dense[:, keep] @ w[keep], abs=1e-5)


def test_lbfgs_minimises_a_quadratic() -> None:
    target = np.array([3.0, -1.0, 0.5])
    scales = np.array([1.0, 10.0, 100.0])

    def objective(v: np.ndarray) -> tuple[float, np.ndarray]:
        d = v - target
        return float(np.sum(scales * d * d)), 2 * scales * d

    solution, value, iterations = minimize_lbfgs(objective, np.zeros(3), max_iter=200)
    assert solution == pytest.approx(target, abs=1e-4)
    assert value == pytest.approx(0.0, abs=1e-8)
    assert iterations < 200


def test_logistic_fit_recovers_the_signal_and_zero_gradient() -> None:
    rng = np.random.default_rng(2)
    x, dense = random_rows(rng, 400, 6)
    d = rng.normal(size=(400, 2))
    true = np.array([2.0, -2.0, 0.0, 1.0, 0.0, 0.0])
    y = (rng.random(400) < sigmoid(dense @ true + d @ np.array([1.5, 0.0]))).astype(float)
    fit = fit_logistic(x, d, y, l2=1e-4, dense_l2=1e-4)
    assert fit.sparse[0] > 1.0 > -1.0 > fit.sparse[1]
    assert fit.dense[0] > 0.8
    # Optimality: the gradient of the regularised loss vanishes.
    residual = (sigmoid(fit.decision(x, d)) - y) / 400
    assert np.abs(x.rmatvec(residual) + 1e-4 * fit.sparse).max() < 1e-4
    assert abs(residual.sum()) < 1e-4


def test_soft_labels_are_matched_in_expectation() -> None:
    x, _ = random_rows(np.random.default_rng(3), 50, 4)
    y = np.full(50, 0.3)
    fit = fit_logistic(x, np.zeros((50, 0)), y, l2=1.0, dense_l2=1.0)
    assert sigmoid(np.array([fit.bias]))[0] == pytest.approx(0.3, abs=1e-3)
