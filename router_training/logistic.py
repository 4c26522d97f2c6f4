"""L2-regularised logistic regression on sparse + dense features, fitted full-batch by L-BFGS.

Labels may be soft (a judge score in [0, 1]); the loss is then the cross-entropy against it.
Full-batch L-BFGS rather than SGD: the problem is convex and small (tens of thousands of rows),
so it converges in a few hundred passes with no learning rate to tune and a deterministic result.

Products here avoid BLAS (`_dot`, `_rows_times`) on purpose: OpenBLAS spreads even a 30k-long
dot product over threads, which made training 4x slower on a busy two-core machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from router.learned.model import sigmoid
from router.learned.sparse import SparseRows

__all__ = ["LogisticFit", "fit_logistic", "minimize_lbfgs", "sigmoid"]

Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


@dataclass(frozen=True)
class LogisticFit:
    """Fitted weights: one per sparse column, one per dense column, and a bias."""

    sparse: NDArray[np.float64]
    dense: NDArray[np.float64]
    bias: float
    iterations: int
    loss: float

    def decision(self, x: SparseRows, d: NDArray[np.float64]) -> NDArray[np.float64]:
        """The logit for every row."""
        result: NDArray[np.float64] = x.matvec(self.sparse) + _rows_times(d, self.dense) + self.bias
        return result


def fit_logistic(
    x: SparseRows,
    d: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    l2: float,
    dense_l2: float,
    center: LogisticFit | None = None,
    max_iter: int = 300,
) -> LogisticFit:
    """Minimise mean cross-entropy + l2/2 |w_sparse - c|^2 + dense_l2/2 |w_dense - c|^2.

    `center` (default zero) is the point the weights shrink towards: a model fitted on pooled
    labels from many models, so that a model with few labels borrows their notion of difficulty.
    """
    n, n_dense = len(y), d.shape[1]
    if x.n_rows != n or d.shape[0] != n:
        raise ValueError(f"row counts differ: sparse {x.n_rows}, dense {d.shape[0]}, labels {n}")
    c_sparse = center.sparse if center is not None else np.zeros(x.n_cols)
    c_dense = center.dense if center is not None else np.zeros(n_dense)
    split = x.n_cols + n_dense

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        ws, wd, b = theta[: x.n_cols], theta[x.n_cols : split], theta[split]
        z = x.matvec(ws) + _rows_times(d, wd) + b
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
        residual = (sigmoid(z) - y) / n
        ds, dd = ws - c_sparse, wd - c_dense
        loss += 0.5 * (l2 * _dot(ds, ds) + dense_l2 * _dot(dd, dd))
        grad = np.concatenate(
            (
                x.rmatvec(residual) + l2 * ds,
                (d * residual[:, None]).sum(axis=0) + dense_l2 * dd,
                [residual.sum()],
            )
        )
        return loss, grad

    start = np.concatenate((c_sparse, c_dense, [center.bias if center is not None else 0.0]))
    theta, loss, iterations = minimize_lbfgs(objective, start, max_iter=max_iter)
    return LogisticFit(
        theta[: x.n_cols], theta[x.n_cols : split], float(theta[split]), iterations, loss
    )


def minimize_lbfgs(
    objective: Objective,
    x0: NDArray[np.float64],
    *,
    max_iter: int = 300,
    history: int = 10,
    gtol: float = 1e-6,
    ftol: float = 1e-10,
) -> tuple[NDArray[np.float64], float, int]:
    """Minimise a smooth function with L-BFGS and a backtracking (Armijo) line search."""
    x = x0.astype(np.float64, copy=True)
    f, g = objective(x)
    s_hist: list[NDArray[np.float64]] = []
    y_hist: list[NDArray[np.float64]] = []
    iterations = 0
    while iterations < max_iter and float(np.max(np.abs(g))) >= gtol:
        iterations += 1
        direction = -_two_loop(g, s_hist, y_hist)
        slope = _dot(g, direction)
        if slope >= 0:
            # Curvature pairs went stale; restart from steepest descent.
            s_hist.clear()
            y_hist.clear()
            direction, slope = -g, -_dot(g, g)
        step = 1.0 if s_hist else 1.0 / max(float(np.linalg.norm(g)), 1.0)
        while True:
            x_new = x + step * direction
            f_new, g_new = objective(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-12:
                break
            step *= 0.5
        s, yk = x_new - x, g_new - g
        if _dot(s, yk) > 1e-12:
            s_hist.append(s)
            y_hist.append(yk)
            if len(s_hist) > history:
                s_hist.pop(0)
                y_hist.pop(0)
        converged = abs(f - f_new) <= ftol * max(abs(f), 1.0)
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x, f, iterations


def _two_loop(
    g: NDArray[np.float64], s_hist: list[NDArray[np.float64]], y_hist: list[NDArray[np.float64]]
) -> NDArray[np.float64]:
    q = g.copy()
    alphas: list[float] = []
    rhos = [1.0 / _dot(y, s) for s, y in zip(s_hist, y_hist, strict=True)]
    for s, y, rho in zip(reversed(s_hist), reversed(y_hist), reversed(rhos), strict=True):
        alpha = rho * _dot(s, q)
        alphas.append(alpha)
        q -= alpha * y
    if s_hist:
        q *= _dot(s_hist[-1], y_hist[-1]) / _dot(y_hist[-1], y_hist[-1])
    for s, y, rho, alpha in zip(s_hist, y_hist, rhos, reversed(alphas), strict=True):
        beta = rho * _dot(y, q)
        q += (alpha - beta) * s
    return q


def _dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    return float(np.multiply(a, b).sum())


def _rows_times(d: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """d @ w for a dense block with few columns, without BLAS."""
    result: NDArray[np.float64] = (d * w[None, :]).sum(axis=1)
    return result
