"""`PolicyParts`: the request path's objects that are built from the policy, as one value.

A policy activation hands `ChatService.use` a new set; each request takes the set current when
it arrives and keeps it to the end, so a change never mixes into a request in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from router.gateway.admit import PriceSource
from router.gateway.capacity import LocalCapacity
from router.gateway.execute import Executor
from router.gateway.judge import SampledJudge
from router.gateway.plan import Planner
from router.policy.schema import Policy


@dataclass(frozen=True, slots=True)
class PolicyParts:
    """Everything a request uses that a policy change replaces."""

    planner: Planner
    executor: Executor
    prices: PriceSource
    judge: SampledJudge | None = None
    capacity: LocalCapacity | None = None
    policy_version: int | None = None  # the stored version served, once it is known

    @property
    def policy(self) -> Policy:
        return self.planner.engine.policy
