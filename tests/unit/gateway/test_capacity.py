"""Spill-over hysteresis, endpoint ranking and live local prices from probe snapshots."""

from __future__ import annotations

import dataclasses

import httpx

from local_backend.metrics import EndpointLoad
from local_backend.probe import CapacityProbe
from router.gateway.capacity import LocalCapacity
from router.policy.decision import SpillCheck
from router.policy.loader import parse_policy
from router.policy.schema import Spill

POLICY = """
models:
  local:
    backend: local
    model: q
    endpoints: ["http://a:1", "http://b:1"]
    local_cost: {gpu_hour_usd: 3.6, gpus: 1, tokens_per_second: 1000, mode: marginal,
                 max_num_seqs: 10}
routes:
  - {name: r, candidates: [local]}
"""


def load(endpoint: str, waiting: int = 0, running: int = 0, kv: float = 0.0,
         healthy: bool = True, tps: float = 0.0) -> EndpointLoad:
    return EndpointLoad(
        endpoint=endpoint, healthy=healthy, running=running, waiting=waiting,
        kv_cache_usage=kv, generation_tokens_per_s=tps,
    )


class FakeProbe(CapacityProbe):
    def __init__(self) -> None:
        super().__init__([], httpx.AsyncClient())
        self.loads: dict[str, EndpointLoad] = {}

    def snapshot(self, endpoint: str) -> EndpointLoad | None:
        return self.loads.get(endpoint)


def make() -> tuple[LocalCapacity, FakeProbe]:
    probe = FakeProbe()
    probe._endpoints = ["http://a:1", "http://b:1"]
    return LocalCapacity(parse_policy(POLICY, source="t", environ={}), probe), probe


def served(capacity: LocalCapacity, spill: Spill) -> str | None:
    """Read the saturation and move the state, as serving does with a decision's checks."""
    reason = capacity.saturation("local", spill)
    capacity.remember([SpillCheck("local", spill, reason is not None)])
    return reason


def test_hysteresis_enters_over_threshold_and_leaves_below_ratio() -> None:
    capacity, probe = make()
    spill = Spill(max_waiting=4, resume_ratio=0.5)
    probe.loads = {"http://a:1": load("http://a:1", waiting=5),
                   "http://b:1": load("http://b:1", waiting=6)}
    assert served(capacity, spill) == "waiting 5 > 4"
    probe.loads["http://a:1"] = load("http://a:1", waiting=3)  # below 4, above 0.5 x 4
    assert served(capacity, spill) == "waiting 3 > 2"
    probe.loads["http://a:1"] = load("http://a:1", waiting=2)
    assert served(capacity, spill) is None
    probe.loads["http://a:1"] = load("http://a:1", waiting=3)  # not saturated: 3 <= 4
    assert served(capacity, spill) is None


def test_reading_saturation_never_moves_the_hysteresis_state() -> None:
    capacity, probe = make()
    spill = Spill(max_waiting=4, resume_ratio=0.5)
    probe.loads = {"http://a:1": load("http://a:1", waiting=5)}
    assert capacity.saturation("local", spill) == "waiting 5 > 4"  # read only, as explain
    probe.loads = {"http://a:1": load("http://a:1", waiting=3)}
    # Never entered (nothing was served), so 3 <= 4 is not saturated.
    assert capacity.saturation("local", spill) is None


SPILL_POLICY = POLICY.replace("routes:\n  - {name: r, candidates: [local]}", """  api:
    backend: openai
    model: a
    endpoints: ["http://c:1"]
routes:
  - name: r
    candidates: [local, api]
    objective: min_cost
    spill: {max_waiting: 4, resume_ratio: 0.5}""")


def test_explain_does_not_change_later_routing_but_serving_does() -> None:
    from router.classify import RuleClassifier
    from router.gateway.live_signals import LiveSignals
    from router.policy.engine import PolicyEngine, RequestContext
    from router.policy.signals import PolicySignals
    from router.settings import Settings
    from router.stats.store import create_stats_store

    probe = FakeProbe()
    policy = parse_policy(SPILL_POLICY, source="t", environ={})
    capacity = LocalCapacity(policy, probe)
    store = create_stats_store(Settings(), None, {})
    engine = PolicyEngine(policy, LiveSignals(PolicySignals(policy), store, capacity))
    classification = RuleClassifier().classify(
        {"model": "auto", "messages": [{"role": "user", "content": "hello"}]})

    def decide() -> bool:
        return engine.decide(classification, RequestContext()).spilled

    probe.loads = {"http://a:1": load("http://a:1", waiting=5)}
    assert decide()  # over 4: spills; explain-only, so nothing moves
    probe.loads = {"http://a:1": load("http://a:1", waiting=3)}
    assert not decide() and not decide()  # the explain above left no saturated state
    probe.loads = {"http://a:1": load("http://a:1", waiting=5)}
    served_decision = engine.decide(classification, RequestContext())
    assert served_decision.spilled and served_decision.spill_checks
    capacity.remember(served_decision.spill_checks)  # what serving does
    probe.loads = {"http://a:1": load("http://a:1", waiting=3)}
    assert decide()  # inside the hysteresis band: still spilling after a served request


def test_kv_and_least_loaded_healthy_endpoint() -> None:
    capacity, probe = make()
    probe.loads = {"http://a:1": load("http://a:1", kv=0.95, healthy=False),
                   "http://b:1": load("http://b:1", kv=0.5)}
    assert capacity.saturation("local", Spill(max_kv_cache=0.9)) is None  # a is down
    assert capacity.endpoint_rank("http://a:1") > capacity.endpoint_rank("http://b:1")  # type: ignore[operator]
    assert capacity.down_reason("local") is None
    probe.loads["http://b:1"] = dataclasses.replace(probe.loads["http://b:1"], healthy=False,
                                                    last_error="connection refused")
    assert "all 2 endpoint(s) down" in (capacity.down_reason("local") or "")


def test_marginal_price_is_zero_when_idle_and_rises_when_busy() -> None:
    capacity, probe = make()
    probe.loads = {"http://a:1": load("http://a:1", running=1, tps=500.0)}
    price = capacity.price("local")
    assert price is not None and price.input_per_million == 0.0
    probe.loads = {"http://a:1": load("http://a:1", running=9, tps=500.0),
                   "http://b:1": load("http://b:1", running=9, tps=500.0)}
    busy = capacity.price("local")
    assert busy is not None
    # 9 of 10 slots: (0.9 - 0.5) / 0.5 = 0.8 of the way to full, 0.64 of the average price.
    assert abs(busy.input_per_million - 0.64 * 3.6 / (500.0 * 3600) * 1e6) < 1e-9


def test_unmeasured_model_uses_the_tasks_measured_output_length() -> None:
    import asyncio

    from router.classify.types import Task
    from router.gateway.live_signals import LiveSignals
    from router.policy.signals import PolicySignals
    from router.settings import Settings
    from router.stats.store import create_stats_store
    from tests.unit.stats.builders import make_record

    text = POLICY.replace("routes:", """  api:
    backend: openai
    model: a
    endpoints: ["http://c:1"]
routes:""")
    policy = parse_policy(text, source="t", environ={})
    store = create_stats_store(Settings(), None, {})
    signals = LiveSignals(PolicySignals(policy), store)
    assert signals.expected_output_tokens(Task.CODE, "local") == 600  # the policy's default
    for i in range(6):
        store.record(make_record(f"r{i}", model="api", tokens_out=40))
    assert signals.expected_output_tokens(Task.CODE, "api") == 40
    assert signals.expected_output_tokens(Task.CODE, "local") == 40  # the task's, not 600
    asyncio.run(store.close())
