"""`RoutingSignals` from the policy alone: quality priors, typical output lengths, latency priors.

The gateway layers live data over this (measured latency, feedback, breakers, local load); the
offline `junction route explain` uses it as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from router.classify.types import Task
from router.policy.engine import QualityView
from router.policy.pricing import ModelPrice, resolve_price
from router.policy.schema import Policy, Spill


class PolicySignals:
    """Signals read from the policy file; `unavailable` may be supplied by the caller."""

    def __init__(
        self, policy: Policy, unavailable: Callable[[str], str | None] | None = None
    ) -> None:
        self.policy = policy
        self.prices = {name: resolve_price(spec) for name, spec in policy.models.items()}
        self._unavailable = unavailable

    def quality(self, task: Task, model: str) -> QualityView:
        table = self.policy.quality.get(task)
        if table is not None and model in table:
            return QualityView(table[model], 0.0, "prior")
        return QualityView(self.policy.defaults.quality, 0.0, "default")

    def expected_output_tokens(self, task: Task, model: str) -> float:
        return float(self.policy.defaults.output_tokens.get(task, 250))

    def expected_latency_ms(self, task: Task, model: str, output_tokens: float) -> float:
        prior = self.policy.models[model].latency
        return prior.ttft_ms + output_tokens / prior.tokens_per_second * 1000.0

    def unavailable_reason(self, model: str) -> str | None:
        return None if self._unavailable is None else self._unavailable(model)

    def price(self, model: str) -> ModelPrice:
        return self.prices[model]

    def local_load(self, model: str) -> Mapping[str, float] | None:
        return None

    def saturation(self, model: str, spill: Spill) -> str | None:
        return None
