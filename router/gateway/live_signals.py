"""`RoutingSignals` from live data: measured latency and output length, feedback-updated quality,
breakers and credentials, falling back to the policy's priors where nothing is measured yet."""

from __future__ import annotations

from collections.abc import Mapping

from router.classify.types import Task
from router.gateway.capacity import LocalCapacity
from router.policy.engine import QualityView
from router.policy.pricing import ModelPrice
from router.policy.schema import Spill
from router.policy.signals import PolicySignals
from router.stats.store import StatsStore

# Below this many answered requests in the window a measurement is noise; use the prior.
MIN_SAMPLES = 5


class LiveSignals:
    def __init__(
        self, base: PolicySignals, store: StatsStore, capacity: LocalCapacity | None = None
    ) -> None:
        self.base = base
        self.store = store
        self.capacity = capacity
        self.prices = base.prices

    def quality(self, task: Task, model: str) -> QualityView:
        estimate = self.store.quality_book.quality(task.value, model)
        if estimate.n > 0:
            return QualityView(estimate.mean, estimate.n, "feedback")
        return self.base.quality(task, model)

    def expected_output_tokens(self, task: Task, model: str) -> float:
        stats = self.store.snapshot(task.value, model)
        if stats.answered >= MIN_SAMPLES and stats.mean_tokens_out is not None:
            return stats.mean_tokens_out
        # Unmeasured here: the task's typical output over the models that served it, so that a
        # model is not judged on the policy's default while its rivals are judged on data.
        total = answered = 0.0
        for other in self.base.policy.models:
            seen = self.store.snapshot(task.value, other)
            if seen.answered and seen.mean_tokens_out is not None:
                total += seen.mean_tokens_out * seen.answered
                answered += seen.answered
        if answered >= MIN_SAMPLES:
            return total / answered
        return self.base.expected_output_tokens(task, model)

    def expected_latency_ms(self, task: Task, model: str, output_tokens: float) -> float:
        stats = self.store.snapshot(task.value, model)
        if stats.answered >= MIN_SAMPLES and stats.total_p95_ms is not None:
            return stats.total_p95_ms
        return self.base.expected_latency_ms(task, model, output_tokens)

    def unavailable_reason(self, model: str) -> str | None:
        if self.capacity is not None:
            down = self.capacity.down_reason(model)
            if down is not None:
                return down
        return self.base.unavailable_reason(model)

    def price(self, model: str) -> ModelPrice:
        if self.capacity is not None:
            live = self.capacity.price(model)
            if live is not None:
                return live
        return self.base.price(model)

    def local_load(self, model: str) -> Mapping[str, float] | None:
        return None if self.capacity is None else self.capacity.describe(model)

    def saturation(self, model: str, spill: Spill) -> str | None:
        return None if self.capacity is None else self.capacity.saturation(model, spill)
