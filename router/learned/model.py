"""Per-model win-probability predictors and pair heads: L2 logistic regressions on shared features.

Each model predictor estimates P(model answers well | prompt). For a strong/weak pair the routing
score is the expected quality gained by calling the strong model: it is high only where the
strong model is likely right *and* the weak one likely wrong, which ranks prompts better than
"the weak model will fail" alone (on both-wrong prompts the strong call is wasted too). Without
a pair head the gain is P(strong) - P(weak). A pair head predicts the gain directly, trained on
the peer-group target of peers.py (2 sigmoid(z) - 1 is its estimate), and the score averages the
two estimates.

On disk a router is a directory: `router.json` (manifest: feature config, models, heads, training
settings, calibration) plus `columns.npy`, `sparse_weights.npy`, `dense_weights.npy`; the weight
arrays have one column per model, then one per pair head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.learned.features import FeatureConfig, PromptFeatures, extract_features
from router.learned.sparse import SparseRows

__all__ = [
    "FORMAT_VERSION",
    "Calibration",
    "ModelCard",
    "PairHeadCard",
    "RouterError",
    "RouterManifest",
    "RouterModel",
    "TrainOptions",
    "sigmoid",
]

FORMAT_VERSION = 1
_MANIFEST = "router.json"


def sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """The logistic function, without overflow warnings for large |z|."""
    result: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * z))
    return result


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


class PairHeadCard(BaseModel):
    """What the manifest records about a pair head, a direct predictor of the strong gain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strong: str
    weak: str
    strong_group: tuple[str, ...]
    weak_group: tuple[str, ...]
    bias: float
    n_train: int
    mean_gain: float
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
    heads: tuple[PairHeadCard, ...] = ()
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
        k = len(self.manifest.models) + len(self.manifest.heads)
        n_dense = len(self.manifest.features.dense)
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
        biases = [m.bias for m in self.manifest.models] + [h.bias for h in self.manifest.heads]
        object.__setattr__(self, "_bias", np.array(biases))
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

    def head(self, strong: str, weak: str) -> int | None:
        """The weight column of the pair head for (strong, weak), or None if there is none."""
        for i, card in enumerate(self.manifest.heads):
            if (card.strong, card.weak) == (strong, weak):
                return len(self.manifest.models) + i
        return None

    def features(self, text: str) -> PromptFeatures:
        return extract_features(text, self.manifest.features)

    def probabilities(self, features: PromptFeatures) -> NDArray[np.float64]:
        """P(good answer) for every model, for one featurised prompt."""
        return sigmoid(self.logits(features)[: len(self.manifest.models)])

    def gain(self, features: PromptFeatures, strong: str, weak: str) -> float:
        """The routing score of one featurised prompt: the expected gain of the strong call."""
        return float(self._gains(self.logits(features)[None, :], strong, weak)[0])

    def logits(self, features: PromptFeatures) -> NDArray[np.float64]:
        """The logit of every weight column (models, then pair heads) for one prompt."""
        rows = self._lookup[features.indices]
        # Broadcast-and-sum, not `@`: a BLAS call may fan out to threads on every request.
        products = features.values.astype(np.float64)[:, None] * self._padded[rows]
        sparse = products.sum(axis=0)
        dense = self._standardise(features.dense[None, :])[0]
        logits = sparse + (dense[:, None] * self.dense_weights).sum(axis=0, dtype=np.float64)
        result: NDArray[np.float64] = logits + self._bias
        return result

    def probabilities_batch(self, x: SparseRows, dense: NDArray[np.float32]) -> NDArray[np.float64]:
        """P(good answer) as an (examples x models) array, for featurise()'s output."""
        return sigmoid(self.logits_batch(x, dense)[:, : len(self.manifest.models)])

    def gains_batch(
        self, x: SparseRows, dense: NDArray[np.float32], strong: str, weak: str
    ) -> NDArray[np.float64]:
        """`gain` for many featurised prompts."""
        return self._gains(self.logits_batch(x, dense), strong, weak)

    def logits_batch(self, x: SparseRows, dense: NDArray[np.float32]) -> NDArray[np.float64]:
        """Logits as an (examples x weight columns) array, for featurise()'s output."""
        remapped = x.remap_columns(self._lookup.astype(np.int64), len(self.columns))
        weights = self.sparse_weights.astype(np.float64)
        logits = np.column_stack([remapped.matvec(weights[:, k]) for k in range(weights.shape[1])])
        logits += self._standardise(dense) @ self.dense_weights.astype(np.float64) + self._bias
        return logits

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

    def _gains(self, logits: NDArray[np.float64], strong: str, weak: str) -> NDArray[np.float64]:
        probabilities = sigmoid(logits)
        pair: NDArray[np.float64] = (
            probabilities[:, self.index(strong)] - probabilities[:, self.index(weak)]
        )
        column = self.head(strong, weak)
        if column is None:
            return pair
        # Two estimates of one expected gain in [-1, 1]; on held-out MMLU-Pro categories their
        # mean ranked prompts better than either alone (bench/learned_router.py).
        result: NDArray[np.float64] = 0.5 * (pair + 2.0 * probabilities[:, column] - 1.0)
        return result

    def _standardise(self, dense: NDArray[np.float32]) -> NDArray[np.float64]:
        clip = self.manifest.training.dense_clip
        z = (dense.astype(np.float64) - self._mean) / self._scale
        result: NDArray[np.float64] = np.clip(z, -clip, clip)
        return result
