"""Load the trained routers a policy's routes name (`router: {path: ...}`)."""

from __future__ import annotations

from pathlib import Path

from router.errors import PolicyError
from router.learned.model import RouterError
from router.learned.runtime import LearnedRouter
from router.policy.engine import PromptScorer
from router.policy.schema import Policy


def load_scorers(policy: Policy, policy_file: Path) -> dict[str, PromptScorer]:
    """Load each route's trained router; a missing or broken one is a start-up error."""
    scorers: dict[str, PromptScorer] = {}
    for route in policy.routes:
        spec = route.router
        if spec is None:
            continue
        directory = (Path(policy_file).parent / spec.path).resolve()
        try:
            scorers[route.name] = LearnedRouter.load(
                directory, strong=spec.router_strong, weak=spec.router_weak,
                threshold=spec.threshold,
            )
        except (OSError, RouterError, ValueError) as exc:
            raise PolicyError(
                f"{policy_file}: route {route.name!r}: cannot load router {directory}: {exc}"
            ) from exc
    return scorers
