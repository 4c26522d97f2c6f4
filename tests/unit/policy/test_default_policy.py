"""The shipped default policy keeps ordinary work on idle local GPUs and spills when they fill.

Real classifier, real engine, real `LocalCapacity` pricing; only the probe's snapshots are set
by hand, because they are what an idle or a saturated vLLM would report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from local_backend.metrics import EndpointLoad
from local_backend.probe import CapacityProbe
from router.classify.classifier import RuleClassifier
from router.gateway.capacity import LocalCapacity
from router.gateway.live_signals import LiveSignals
from router.policy.decision import VerdictKind
from router.policy.engine import PolicyEngine, RequestContext
from router.policy.loader import load_policy
from router.policy.signals import PolicySignals
from router.settings import Settings
from router.stats.store import create_stats_store

DEFAULT = Path(__file__).resolve().parents[3] / "policies" / "default.yaml"
LOCAL = "http://127.0.0.1:8000"
ENV = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}

PARAGRAPH = (
    "The quarterly report describes how the warehouse team reorganised its shifts, which "
    "suppliers delivered late, what the new scanning system changed for the pickers, and how "
    "the customer service desk handled the spring returns. "
)


def _chat(*messages: tuple[str, str], max_tokens: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "auto",
                            "messages": [{"role": r, "content": c} for r, c in messages]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def _long_chat() -> dict[str, Any]:
    turns: list[tuple[str, str]] = []
    for i in range(20):
        turns.append(("user", f"Tell me more about point {i} of the plan for the office move."))
        turns.append(("assistant", PARAGRAPH))
    turns.append(("user", "Thanks. And what about the parking spaces?"))
    return _chat(*turns)


ORDINARY = {
    "hi": _chat(("user", "hi"), max_tokens=5),
    "summary": _chat(("user", "Summarise this report in five bullet points:\n\n" + PARAGRAPH * 60)),
    "document_qa": _chat(
        ("system", "Answer questions using this document only.\n\n" + PARAGRAPH * 40),
        ("user", "Which suppliers delivered late?"),
    ),
    "long_chat": _long_chat(),
}


class SetProbe(CapacityProbe):
    """A probe whose snapshots the test sets: what vLLM's /metrics would have said."""

    def __init__(self) -> None:
        super().__init__([], httpx.AsyncClient())
        self.loads: dict[str, EndpointLoad] = {}

    def snapshot(self, endpoint: str) -> EndpointLoad | None:
        return self.loads.get(endpoint)


def _engine(load: EndpointLoad) -> PolicyEngine:
    policy = load_policy(DEFAULT, environ=ENV)
    probe = SetProbe()
    probe.loads[LOCAL] = load
    store = create_stats_store(Settings(), None, {})
    signals = LiveSignals(PolicySignals(policy), store, LocalCapacity(policy, probe))
    return PolicyEngine(policy, signals)


def _decide(engine: PolicyEngine, body: dict[str, Any]) -> Any:
    classification = RuleClassifier().classify(body)
    ctx = RequestContext(max_output_tokens=body.get("max_tokens"), messages=body["messages"])
    return engine.decide(classification, ctx)


IDLE = EndpointLoad(endpoint=LOCAL, healthy=True, running=0, waiting=0, kv_cache_usage=0.02,
                    ttft_p50_s=0.15)


@pytest.mark.parametrize("name", sorted(ORDINARY))
def test_ordinary_work_goes_to_the_idle_local_model_first(name: str) -> None:
    body = ORDINARY[name]
    decision = _decide(_engine(IDLE), body)
    assert decision.route == "default"
    assert decision.attempts[:2] == ("qwen-local", "gpt-4o-mini"), decision.verdicts
    local = next(v for v in decision.verdicts if v.model == "qwen-local")
    assert local.expected_cost_usd == 0.0
    assert local.load is not None
    assert local.load["utilisation"] == pytest.approx(0.02)
    assert local.load["price_per_million_usd"] == 0.0


def test_the_summary_is_about_3400_tokens() -> None:
    tokens = RuleClassifier().classify(ORDINARY["summary"]).prompt_tokens
    assert 3000 <= tokens <= 4000


def test_a_filling_gpu_costs_more_but_stays_first_until_it_must_spill() -> None:
    half_full = EndpointLoad(endpoint=LOCAL, healthy=True, running=6, waiting=0,
                             kv_cache_usage=0.6, ttft_p50_s=0.2)
    decision = _decide(_engine(half_full), ORDINARY["hi"])
    local = next(v for v in decision.verdicts if v.model == "qwen-local")
    assert local.load is not None and 0 < local.load["price_per_million_usd"] < 0.1
    assert decision.attempts[0] == "qwen-local"


def test_a_queue_on_the_local_model_spills_to_the_api() -> None:
    queued = EndpointLoad(endpoint=LOCAL, healthy=True, running=8, waiting=3,
                          kv_cache_usage=0.7, ttft_p50_s=0.2, e2e_p50_s=0.5)
    decision = _decide(_engine(queued), ORDINARY["hi"])
    assert decision.spilled
    assert decision.attempts[0] == "gpt-4o-mini"
    assert decision.attempts.index("qwen-local") > decision.attempts.index("gpt-4o-mini")
    local = next(v for v in decision.verdicts if v.model == "qwen-local")
    assert "waiting 3 > 1" in local.reason
    assert local.kind is VerdictKind.SPILLED and local.saturation == "waiting 3 > 1"
    assert local.to_dict()["kind"] == "spilled"


def test_the_default_local_model_is_what_the_35b_launch_profiles_serve() -> None:
    from local_backend.profiles import load_profiles

    policy = load_policy(DEFAULT, environ={})
    served = {p.served_model_name for p in load_profiles().values()
              if "35B-A3B" in p.model}
    assert served == {policy.models["qwen-local"].model}
