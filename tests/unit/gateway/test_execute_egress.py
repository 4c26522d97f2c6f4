"""`Executor` with the egress guard: refusals send nothing and never hold a breaker's probe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from router.classify.types import Classification, Sensitivity, Task
from router.gateway.egress import EgressGuard
from router.gateway.execute import EgressRefused, Executor
from router.policy.decision import Decision
from router.policy.loader import parse_policy
from router.providers.base import Provider
from router.providers.breaker import CircuitBreakers

POLICY = """
models:
  api:
    backend: openai
    model: api-model
    endpoints: ["http://127.0.0.1:10"]
    prices: {input_per_million: 0.15, output_per_million: 0.6}
    context_window: 128000
routes:
  - name: default
    candidates: [api]
"""


class Refuses:
    """Where a provider would be: any call is a leak."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the provider was called ({name}) for a refused body")


def test_refused_body_is_never_handed_to_the_provider_nor_holds_a_probe() -> None:
    policy = parse_policy(POLICY, source="test.yaml", environ={})
    now = [0.0]
    breakers = CircuitBreakers(1, 10.0, clock=lambda: now[0])
    breakers.record_failure("api")
    now[0] = 11.0  # cooled down: the next caller would get the half-open probe
    provider: Provider = Refuses()  # type: ignore[assignment]
    executor = Executor(policy, {"openai": provider}, breakers, {"api": None}, 5.0,
                        guard=EgressGuard())
    nothing_seen = Classification(task=Task.CHAT, difficulty=0.1, sensitivity=Sensitivity.NONE)
    decision = Decision(route="default", objective="min_cost", attempts=("api",), verdicts=(),
                        classification=nothing_seen, fail_closed=False)
    body = {"model": "default", "messages": [{"role": "user", "content": "hi"}],
            "user": "jane.doe@example.com"}
    with pytest.raises(EgressRefused) as info:
        asyncio.run(executor.complete(body, decision))
    assert [(a.model, a.outcome) for a in info.value.outcome.attempts] == [
        ("api", "refused_egress")]
    assert info.value.refusal.fields == {"email": ("user",)}
    # the probe was not claimed, so a clean request may still take it
    assert breakers.state("api") == "half_open"
    assert breakers.before_call("api")

