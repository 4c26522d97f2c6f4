"""`PolicyRuntime`: everything built from one policy, swapped as one piece.

The engine, executor, signals, capacity, classifier's org detectors, egress guard, judge and
availability all read the policy; `RuntimeBuilder.build(policy)` makes a consistent set of them
and `RuntimeHolder.swap` replaces the set atomically (one assignment on the event loop). A
request pins the runtime it started on, so requests in flight finish on the old policy.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from local_backend.probe import CapacityProbe
from router.classify import Classifier, RuleClassifier
from router.classify.sensitivity import warm_up
from router.gateway.availability import Availability
from router.gateway.capacity import LocalCapacity
from router.gateway.egress import EgressGuard
from router.gateway.execute import Executor
from router.gateway.judge import SampledJudge
from router.gateway.live_signals import LiveSignals
from router.gateway.parts import PolicyParts
from router.gateway.plan import Planner
from router.gateway.scorers import load_scorers
from router.policy.detectors import build_detectors
from router.policy.engine import PolicyEngine
from router.policy.schema import Policy
from router.policy.signals import PolicySignals
from router.providers.base import Provider
from router.providers.breaker import CircuitBreakers
from router.settings import Settings
from router.stats.store import StatsStore


@dataclass(frozen=True)
class PolicyVersionRef:
    """Which stored policy version a runtime serves (None before the store has one)."""

    id: int
    hash: str


@dataclass(frozen=True)
class PolicyRuntime:
    """One policy and every object built from it."""

    policy: Policy
    classifier: Classifier
    engine: PolicyEngine
    executor: Executor
    signals: LiveSignals
    capacity: LocalCapacity
    probe: CapacityProbe
    availability: Availability
    judge: SampledJudge
    version: PolicyVersionRef | None = None

    def parts(self) -> PolicyParts:
        """What the request path uses of this runtime (`ChatService.use` takes it)."""
        return PolicyParts(Planner(self.classifier, self.engine), self.executor, self.signals,
                           self.judge, self.capacity,
                           self.version.id if self.version is not None else None)


class RuntimeBuilder:
    """Holds what outlives a policy (settings, providers, breakers, stats, HTTP clients)."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        *,
        breakers: CircuitBreakers,
        providers: dict[str, Provider],
        provider_factory: Callable[[Policy], dict[str, Provider]],
        stats: StatsStore,
        probe_client: httpx.AsyncClient,
        classifier: Classifier | None = None,
    ) -> None:
        self._settings = settings
        self._environ = environ
        self._breakers = breakers
        self.providers = providers
        self._provider_factory = provider_factory
        self._stats = stats
        self._probe_client = probe_client
        self._classifier = classifier

    def build(self, policy: Policy, version: PolicyVersionRef | None = None) -> PolicyRuntime:
        """Every policy-bound object for `policy`; raises `PolicyError` if it cannot serve."""
        settings = self._settings
        api_keys = read_api_keys(policy, self._environ)
        needed = {spec.backend for spec in policy.models.values()}
        if not needed <= set(self.providers):
            for backend, provider in self._provider_factory(policy).items():
                self.providers.setdefault(backend, provider)
        breakers = self._breakers

        def unavailable(model: str) -> str | None:
            spec = policy.models[model]
            if spec.api_key_env and api_keys.get(model) is None:
                return f"API key variable {spec.api_key_env} is not set"
            return breakers.blocked_reason(model)

        probe = CapacityProbe(LocalCapacity.endpoints_of(policy), self._probe_client,
                              interval_s=settings.probe_interval_s)
        capacity = LocalCapacity(policy, probe)
        signals = LiveSignals(PolicySignals(policy, unavailable), self._stats, capacity)
        scorers = load_scorers(policy, settings.policy_file, self._stats.shares)
        engine = PolicyEngine(policy, signals, scorers=scorers)
        # The classifier and the egress guard must use the same detectors.
        extra_detectors = build_detectors(policy)
        warm_up(extra_detectors)
        availability = Availability(policy, self._probe_client, signals.unavailable_reason,
                                    api_keys)
        executor = Executor(policy, self.providers, breakers, api_keys,
                            settings.timeouts.first_byte_s,
                            endpoint_load=capacity.endpoint_rank,
                            guard=EgressGuard(extra_detectors),
                            attempt_total_s=settings.timeouts.attempt_total_s,
                            request_total_s=settings.timeouts.request_total_s)
        return PolicyRuntime(
            policy=policy,
            classifier=self._classifier or RuleClassifier(extra_detectors=extra_detectors),
            engine=engine,
            executor=executor,
            signals=signals,
            capacity=capacity,
            probe=probe,
            availability=availability,
            judge=SampledJudge(policy, executor, self._stats.quality_book),
            version=version,
        )


class RuntimeHolder:
    """The runtime new requests get; `swap` replaces it and returns the one it replaced."""

    def __init__(self, runtime: PolicyRuntime) -> None:
        self._current = runtime
        # Every executor still alive (old ones while their streams finish), for shutdown.
        self._executors: weakref.WeakSet[Executor] = weakref.WeakSet([runtime.executor])

    @property
    def current(self) -> PolicyRuntime:
        return self._current

    def swap(self, runtime: PolicyRuntime) -> PolicyRuntime:
        old, self._current = self._current, runtime
        self._executors.add(runtime.executor)
        return old

    async def interrupt_streams(self, reason: str) -> int:
        """End every stream still open, on any runtime's executor (at shutdown)."""
        total = 0
        for executor in list(self._executors):
            total += await executor.interrupt_streams(reason)
        return total


def read_api_keys(policy: Policy, environ: Mapping[str, str]) -> dict[str, SecretStr | None]:
    keys: dict[str, SecretStr | None] = {}
    for name, spec in policy.models.items():
        value = environ.get(spec.api_key_env) if spec.api_key_env else None
        keys[name] = SecretStr(value) if value else None
    return keys
