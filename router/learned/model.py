"""Per-model win-probability predictors: one L2 logistic regression per model on shared features.

Each predictor estimates P(model answers well | prompt). For a strong/weak pair the routing
score is the expected quality gained by calling the strong model, P(strong) - P(weak): it is
high only where the strong model is likely right *and* the weak one likely wrong, which ranks
prompts better than "the weak model will fail" alone (on both-wrong prompts the strong call
is wasted too).

On disk a router is a directory: `router.json` (manifest: feature config, models, training
settings, calibration) plus `columns.npy`, `sparse_weights.npy`, `dense_weights.npy`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.learned.features import FeatureConfig, PromptFeatures, extract_features
from router.learned.logistic import fit_logistic, sigmoid
from router.learned.sparse import SparseRows

__all__ = [
    "FORMAT_VERSION",
    "Calibration",
    "ModelCard",
    "RouterError",
    "RouterManifest",
    "RouterModel",
    "TrainOptions",
    "featurise",
    "fit_router",
    "train_router",
]

FORMAT_VERSION = 1
_MANIFEST = "router.json"


class RouterError(ValueError):
    """A router directory that cannot be loaded or a request it cannot answer."""


class TrainOptions(BaseModel):
    """Training settings; stored in the manifest so a router records how it was made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Strong regularisation on purpose: the router is judged on prompts unlike its training set.
    l2: float = Field(default=1e-3, gt=0)
    dense_l2: float = Field(default=1e-3, gt=0)
    # Buckets seen in fewer training prompts get no weight: they can only memorise.
    min_df: int = Field(default=2, ge=1)
    # Standardised dense features are clipped so unusual prompts cannot extrapolate wildly.
    dense_clip: float = Field(default=3.0, gt=0)
    max_iter: int = Field(default=300, ge=1)


class ModelCard(BaseModel):
    """What the manifest records about one model's predictor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    bias: float
    n_train: int
    mean_score: float
    iterations: int


class Calibration(BaseModel):
    """A threshold on the strong/weak score, chosen on a calibration set (see calibrate.py)."""

    # "Send nothing to the strong model" is threshold +inf; keep it as Infinity in the JSON.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="constants")

    strong: str
    weak: str
    threshold: float
    target: str
    target_value: float
    strong_share: float
    pgr: float | None
    n: int


class RouterManifest(BaseModel):
    """`router.json`: everything about a router except its weight arrays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["junction-learned-router"] = "junction-learned-router"
    version: int = FORMAT_VERSION
    features: FeatureConfig
    training: TrainOptions
    models: tuple[ModelCard, ...]
    dense_mean: tuple[float, ...]
    dense_scale: tuple[float, ...]
    n_examples: int
    calibration: Calibration | None = None


@dataclass(frozen=True)
class RouterModel:
    """A trained router in memory: weights for `manifest.models`, read-only after construction."""

    manifest: RouterManifest
    columns: NDArray[np.int32]
    sparse_weights: NDArray[np.float32]
    dense_weights: NDArray[np.float32]
    _lookup: NDArray[np.int32] = field(init=False, repr=False, compare=False)
    _padded: NDArray[np.float32] = field(init=False, repr=False, compare=False)
    _bias: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _mean: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _scale: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        k, n_dense = len(self.manifest.models), len(self.manifest.features.dense)
        if self.sparse_weights.shape != (len(self.columns), k):
            raise RouterError(
                f"sparse weights have shape {self.sparse_weights.shape}, "
                f"expected ({len(self.columns)}, {k})"
            )
        if self.dense_weights.shape != (n_dense, k):
            raise RouterError(
                f"dense weights have shape {self.dense_weights.shape}, expected ({n_dense}, {k})"
            )
        n_buckets = self.manifest.features.n_buckets
        if len(self.columns) and not (self.columns.min() >= 0 and self.columns.max() < n_buckets):
            raise RouterError(f"weight columns fall outside the {n_buckets} feature buckets")
        lookup = np.full(n_buckets, -1, dtype=np.int32)
        lookup[self.columns] = np.arange(len(self.columns), dtype=np.int32)
        # Unseen buckets look up row -1: a zero row appended here, so no mask is needed.
        padded = np.vstack((self.sparse_weights, np.zeros((1, k), dtype=np.float32)))
        # Read-only arrays are what makes one instance safe to share between request threads.
        for array in (lookup, padded, self.columns, self.sparse_weights, self.dense_weights):
            array.flags.writeable = False
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_padded", padded)
        object.__setattr__(self, "_bias", np.array([m.bias for m in self.manifest.models]))
        object.__setattr__(self, "_mean", np.array(self.manifest.dense_mean))
        object.__setattr__(self, "_scale", np.array(self.manifest.dense_scale))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(card.name for card in self.manifest.models)

    def index(self, model: str) -> int:
        """The position of `model`; the error lists the models this router knows."""
        try:
            return self.models.index(model)
        except ValueError:
            raise RouterError(
                f"model {model!r} is not in this router; it predicts {list(self.models)}"
            ) from None

    def features(self, text: str) -> PromptFeatures:
        return extract_features(text, self.manifest.features)

    def probabilities(self, features: PromptFeatures) -> NDArray[np.float64]:
        """P(good answer) for every model, for one featurised prompt."""
        rows = self._lookup[features.indices]
        # Broadcast-and-sum, not `@`: a BLAS call may fan out to threads on every request.
        products = features.values.astype(np.float64)[:, None] * self._padded[rows]
        sparse = products.sum(axis=0)
        dense = self._standardise(features.dense[None, :])[0]
        logits = sparse + (dense[:, None] * self.dense_weights).sum(axis=0, dtype=np.float64)
        return sigmoid(logits + self._bias)

    def probabilities_batch(self, x: SparseRows, dense: NDArray[np.float32]) -> NDArray[np.float64]:
        """P(good answer) as an (examples x models) array, for featurise()'s output."""
        remapped = x.remap_columns(self._lookup.astype(np.int64), len(self.columns))
        weights = self.sparse_weights.astype(np.float64)
        logits = np.column_stack([remapped.matvec(weights[:, k]) for k in range(weights.shape[1])])
        logits += self._standardise(dense) @ self.dense_weights.astype(np.float64) + self._bias
        return sigmoid(logits)

    def with_calibration(self, calibration: Calibration | None) -> RouterModel:
        """A copy with a new calibration (weights are shared, they are read-only)."""
        return replace(self, manifest=self.manifest.model_copy(update={"calibration": calibration}))

    def save(self, directory: Path) -> None:
        """Write the manifest and weight arrays into `directory` (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "columns.npy", self.columns)
        np.save(directory / "sparse_weights.npy", self.sparse_weights)
        np.save(directory / "dense_weights.npy", self.dense_weights)
        (directory / _MANIFEST).write_text(self.manifest.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> RouterModel:
        """Read a router directory; RouterError says which file or field is wrong."""
        path = directory / _MANIFEST
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RouterError(f"{path}: cannot read the router manifest: {exc}") from exc
        version = raw.get("version") if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise RouterError(
                f"{path}: format version {version!r} is not supported; expected {FORMAT_VERSION}"
            )
        try:
            manifest = RouterManifest.model_validate(raw)
        except ValidationError as exc:
            raise RouterError(f"{path}: invalid manifest: {exc}") from exc
        try:
            arrays = [
                np.load(directory / name, allow_pickle=False)
                for name in ("columns.npy", "sparse_weights.npy", "dense_weights.npy")
            ]
        except (OSError, ValueError) as exc:
            raise RouterError(f"{directory}: cannot read the weight arrays: {exc}") from exc
        columns, sparse_weights, dense_weights = arrays
        return cls(
            manifest,
            columns.astype(np.int32),
            sparse_weights.astype(np.float32),
            dense_weights.astype(np.float32),
        )

    def _standardise(self, dense: NDArray[np.float32]) -> NDArray[np.float64]:
        clip = self.manifest.training.dense_clip
        z = (dense.astype(np.float64) - self._mean) / self._scale
        result: NDArray[np.float64] = np.clip(z, -clip, clip)
        return result


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
) -> RouterModel:
    """Fit one predictor per model; `scores` is (texts x models) quality with NaN = unscored."""
    features = features or FeatureConfig()
    if scores.shape != (len(texts), len(models)):
        raise ValueError(
            f"scores have shape {scores.shape}; expected ({len(texts)}, {len(models)})"
        )
    x, dense = featurise(texts, features)
    return fit_router(x, dense, scores, models, features=features, options=options)


def fit_router(
    x: SparseRows,
    dense: NDArray[np.float32],
    scores: NDArray[np.float64],
    models: Sequence[str],
    *,
    features: FeatureConfig,
    options: TrainOptions | None = None,
) -> RouterModel:
    """`train_router` for prompts already featurised with `features` (a benchmark reuses them)."""
    options = options or TrainOptions()
    if scores.shape != (x.n_rows, len(models)) or len(dense) != x.n_rows:
        raise ValueError(
            f"scores have shape {scores.shape}, dense {dense.shape}; "
            f"expected ({x.n_rows}, {len(models)}) and {x.n_rows} rows"
        )
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
    sparse_weights = np.zeros((len(columns), len(models)), dtype=np.float32)
    dense_weights = np.zeros((dense.shape[1], len(models)), dtype=np.float32)
    for k, model in enumerate(models):
        rows = np.flatnonzero(~np.isnan(scores[:, k]))
        if len(rows) == 0:
            raise ValueError(f"model {model!r} has no scores to train on")
        fit = fit_logistic(
            compact.take(rows),
            z[rows],
            scores[rows, k],
            l2=options.l2,
            dense_l2=options.dense_l2,
            max_iter=options.max_iter,
        )
        sparse_weights[:, k] = fit.sparse
        dense_weights[:, k] = fit.dense
        cards.append(
            ModelCard(
                name=model,
                bias=fit.bias,
                n_train=len(rows),
                mean_score=float(scores[rows, k].mean()),
                iterations=fit.iterations,
            )
        )
    manifest = RouterManifest(
        features=features,
        training=options,
        models=tuple(cards),
        dense_mean=tuple(float(v) for v in mean),
        dense_scale=tuple(float(v) for v in scale),
        n_examples=x.n_rows,
    )
    return RouterModel(manifest, columns, sparse_weights, dense_weights)
