"""A minimal compressed-sparse-row matrix in numpy: just what training a linear model needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SparseRows"]


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix in CSR layout (`indptr`, `indices`, `values`) with `n_cols`."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    values: NDArray[np.float32]
    n_cols: int

    @classmethod
    def from_rows(
        cls, rows: Sequence[tuple[NDArray[np.int32], NDArray[np.float32]]], n_cols: int
    ) -> SparseRows:
        """Stack per-row (indices, values) pairs."""
        lengths = np.array([len(idx) for idx, _ in rows], dtype=np.int64)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if rows:
            indices = np.concatenate([idx for idx, _ in rows]).astype(np.int32)
            values = np.concatenate([val for _, val in rows]).astype(np.float32)
        else:
            indices, values = np.zeros(0, np.int32), np.zeros(0, np.float32)
        return cls(indptr, indices, values, n_cols)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def row_lengths(self) -> NDArray[np.int64]:
        return np.diff(self.indptr)

    def matvec(self, w: NDArray[np.float64]) -> NDArray[np.float64]:
        """X @ w."""
        result = np.zeros(self.n_rows, dtype=np.float64)
        if len(self.indices) == 0:
            return result
        products = self.values * w[self.indices]
        filled = self.indptr[1:] > self.indptr[:-1]
        # reduceat would give an empty row its neighbour's value, so only filled rows are summed.
        result[filled] = np.add.reduceat(products, self.indptr[:-1][filled])
        return result

    def rmatvec(self, g: NDArray[np.float64]) -> NDArray[np.float64]:
        """X.T @ g."""
        weights = self.values * np.repeat(g, self.row_lengths)
        summed = np.bincount(self.indices, weights=weights, minlength=self.n_cols)
        return summed.astype(np.float64, copy=False)

    def take(self, rows: NDArray[np.int64]) -> SparseRows:
        """The sub-matrix of the given rows, in that order."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # Position j of the output reads element starts[row] + (j - indptr[row]) of the input.
        offsets = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1] - starts, lengths)
        return SparseRows(indptr, self.indices[offsets], self.values[offsets], self.n_cols)

    def remap_columns(self, mapping: NDArray[np.int64], n_cols: int) -> SparseRows:
        """Rename columns through `mapping` (old -> new, -1 drops the column)."""
        new = mapping[self.indices]
        keep = new >= 0
        kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
        indptr = kept_before[self.indptr]
        return SparseRows(indptr, new[keep].astype(np.int32), self.values[keep], n_cols)
