"""The learned router as the gateway's policy engine sees it: load once, then pure calls.

    router = LearnedRouter.load(Path("routers/gpt4o-vs-llama8b"))
    router.needs_strong(text)   # True -> call the strong model

After `load` nothing does I/O or mutates state, so one instance serves every request thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router.learned.model import RouterError, RouterModel
from router.learned.text import text_from_messages

__all__ = ["LearnedRouter", "strong_need"]


def strong_need(probabilities: NDArray[np.float64], strong: int, weak: int) -> NDArray[np.float64]:
    """P(s) - P(w): the routing score of a router without a pair head for (s, w) (model.py).

    `probabilities` has models on its last axis (one prompt, or a batch of them).
    """
    result: NDArray[np.float64] = probabilities[..., strong] - probabilities[..., weak]
    return result


class LearnedRouter:
    """Per-prompt scores from a trained router directory, with its calibrated threshold."""

    def __init__(
        self,
        model: RouterModel,
        *,
        strong: str | None = None,
        weak: str | None = None,
        threshold: float | None = None,
    ) -> None:
        calibration = model.manifest.calibration
        if strong is None or weak is None:
            strong, weak = _default_pair(model, strong, weak)
        if strong == weak:
            raise RouterError(f"strong and weak must differ; both are {strong!r}")
        self._model = model
        for name in (strong, weak):
            model.index(name)  # an unknown model fails here, not on the first request
        self.strong, self.weak = strong, weak
        if threshold is None and calibration is not None:
            if (calibration.strong, calibration.weak) != (strong, weak):
                raise RouterError(
                    f"the calibration is for strong={calibration.strong!r}, "
                    f"weak={calibration.weak!r}, not strong={strong!r}, weak={weak!r}; "
                    "recalibrate or pass a threshold"
                )
            threshold = calibration.threshold
        self.threshold = threshold
        self.target_share: float | None = None  # a fixed threshold aims at no share

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        strong: str | None = None,
        weak: str | None = None,
        threshold: float | None = None,
    ) -> LearnedRouter:
        """Read a router directory (see model.py for its layout)."""
        return cls(RouterModel.load(directory), strong=strong, weak=weak, threshold=threshold)

    @property
    def models(self) -> tuple[str, ...]:
        return self._model.models

    def predict(self, text: str) -> dict[str, float]:
        """P(good answer | prompt) for every model the router knows."""
        probabilities = self._model.probabilities(self._model.features(text))
        return {model: float(p) for model, p in zip(self.models, probabilities, strict=True)}

    def score(self, text: str) -> float:
        """How much the prompt needs the strong model: the expected gain of calling it."""
        return self._model.gain(self._model.features(text), self.strong, self.weak)

    def needs_strong(self, text: str) -> bool:
        """Whether the score reaches the calibrated threshold."""
        if self.threshold is None:
            raise RouterError(
                "this router has no threshold: run `junction router calibrate` or pass threshold="
            )
        return self.score(text) >= self.threshold

    def score_messages(self, messages: Sequence[Mapping[str, Any]]) -> float:
        """`score` for a chat: the last user message with a little context."""
        return self.score(text_from_messages(messages))


def _default_pair(model: RouterModel, strong: str | None, weak: str | None) -> tuple[str, str]:
    calibration = model.manifest.calibration
    if calibration is not None and strong is None and weak is None:
        return calibration.strong, calibration.weak
    cards = sorted(model.manifest.models, key=lambda card: card.mean_score, reverse=True)
    if len(cards) == 2 and strong is None and weak is None:
        # With two models the better one on the training data is the strong one.
        return cards[0].name, cards[1].name
    if strong is not None and weak is None and len(cards) == 2:
        return strong, next(c.name for c in cards if c.name != strong)
    if weak is not None and strong is None and len(cards) == 2:
        return next(c.name for c in cards if c.name != weak), weak
    raise RouterError(
        f"name the strong and weak models: this router predicts {[c.name for c in cards]}"
    )
