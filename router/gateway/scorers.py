"""Load the trained prompt scorers a policy's routes name (`scorer: {path: ...}`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from router.errors import PolicyError
from router.learned.model import RouterError
from router.learned.runtime import LearnedRouter
from router.policy.engine import PromptScorer
from router.policy.schema import Policy
from router.stats.score_share import ShareTracker


class ShareHoldingScorer:
    """A router whose threshold sends `target_share` of recent traffic to the strong model.

    Reads the tracker's estimate (memory, never blocks); until the window holds enough scores
    the router's calibrated threshold stands in. Scores reach the tracker through the request
    records (`RequestRecord.prompt_score`), so explain and what-if change nothing.
    """

    def __init__(
        self, router: LearnedRouter, route: str, target_share: float, shares: ShareTracker
    ) -> None:
        self._router = router
        self._route = route
        self._shares = shares
        self.target_share: float | None = target_share

    @property
    def threshold(self) -> float | None:
        view = self._shares.view(self._route, self.target_share or 0.0)
        return self._router.threshold if view is None else view.threshold

    def score_messages(self, messages: Sequence[Mapping[str, Any]]) -> float:
        return self._router.score_messages(messages)


def load_scorers(
    policy: Policy, policy_file: Path, shares: ShareTracker | None = None
) -> dict[str, PromptScorer]:
    """Load each route's trained router; a missing or broken one is a start-up error.

    Without `shares` (offline explain) a route's `strong_share` falls back to the calibrated
    threshold.
    """
    scorers: dict[str, PromptScorer] = {}
    for route in policy.routes:
        spec = route.scorer
        if spec is None:
            continue
        directory = (Path(policy_file).parent / spec.path).resolve()
        try:
            router = LearnedRouter.load(
                directory, strong=spec.scorer_strong, weak=spec.scorer_weak,
                threshold=spec.threshold,
            )
        except (OSError, RouterError, ValueError) as exc:
            raise PolicyError(
                f"{policy_file}: route {route.name!r}: cannot load prompt scorer {directory}: {exc}"
            ) from exc
        if spec.strong_share is not None and shares is not None:
            scorers[route.name] = ShareHoldingScorer(router, route.name, spec.strong_share, shares)
        else:
            scorers[route.name] = router
    return scorers
