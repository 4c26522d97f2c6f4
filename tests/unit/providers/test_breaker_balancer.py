"""Circuit breaker state machine and least-outstanding endpoint choice."""

from __future__ import annotations

from router.providers.balancer import EndpointBalancer
from router.providers.breaker import CircuitBreakers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    breakers = CircuitBreakers(failure_threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        breakers.record_failure("m")
    assert breakers.state("m") == "closed"
    breakers.record_failure("m")
    assert breakers.state("m") == "open"
    assert not breakers.before_call("m")
    assert "circuit open after 3 consecutive failures" in (breakers.blocked_reason("m") or "")

    clock.now = 10.5
    assert breakers.state("m") == "half_open"
    assert breakers.before_call("m")  # the one probe
    assert not breakers.before_call("m")  # nobody else while it runs
    breakers.record_failure("m")
    assert breakers.state("m") == "open"

    clock.now = 21
    assert breakers.before_call("m")
    breakers.record_success("m")
    assert breakers.state("m") == "closed"
    assert breakers.blocked_reason("m") is None


def test_success_resets_consecutive_count() -> None:
    breakers = CircuitBreakers(failure_threshold=2, cooldown_s=1)
    breakers.record_failure("m")
    breakers.record_success("m")
    breakers.record_failure("m")
    assert breakers.state("m") == "closed"


def test_least_outstanding() -> None:
    balancer = EndpointBalancer()
    endpoints = ["a", "b", "c"]
    with balancer.track("a"), balancer.track("b"):
        assert balancer.pick(endpoints) == "c"
        with balancer.track("c"), balancer.track("c"):
            assert balancer.pick(endpoints) in {"a", "b"}
    assert balancer.pick(endpoints, exclude=frozenset({"a", "b", "c"})) is None
    assert balancer.in_flight("a") == 0


def test_probe_load_ranks_first() -> None:
    balancer = EndpointBalancer()
    load = {"a": (5.0,), "b": (0.0,)}
    assert balancer.pick(["a", "b"], load=load.get) == "b"


def test_ties_rotate() -> None:
    balancer = EndpointBalancer()
    picks = {balancer.pick(["a", "b"]) for _ in range(4)}
    assert picks == {"a", "b"}


def test_retry_after_opens_the_circuit_for_that_long_bounded() -> None:
    clock = Clock()
    breakers = CircuitBreakers(failure_threshold=5, cooldown_s=10, clock=clock,
                               max_retry_after_s=300)
    breakers.record_failure("m", retry_after_s=42)  # one failure, under the threshold
    assert breakers.state("m") == "open"
    assert "Retry-After" in (breakers.blocked_reason("m") or "")
    clock.now = 41.9
    assert not breakers.before_call("m")
    clock.now = 42
    assert breakers.before_call("m")  # the half-open probe
    breakers.record_success("m")

    breakers.record_failure("m", retry_after_s=86_400)
    clock.now = 42 + 299
    assert breakers.state("m") == "open"
    clock.now = 42 + 300
    assert breakers.state("m") == "half_open"


def test_retry_after_of_zero_or_none_changes_nothing() -> None:
    breakers = CircuitBreakers(failure_threshold=2, cooldown_s=10, clock=Clock())
    breakers.record_failure("m", retry_after_s=0)
    breakers.record_failure("n", retry_after_s=None)
    assert breakers.state("m") == breakers.state("n") == "closed"
