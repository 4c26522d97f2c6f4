"""Policy engine decisions, as tables: routing, filters, objectives and fail-closed."""

from __future__ import annotations

import pytest

from router.classify.types import Capability, Classification, Sensitivity, Task
from router.policy.decision import RejectionKind, VerdictKind
from router.policy.engine import PolicyEngine, RequestContext, UnknownModel
from router.policy.loader import parse_policy
from router.policy.signals import PolicySignals

POLICY = """
models:
  local:
    backend: local
    model: qwen
    endpoints: ["http://127.0.0.1:9"]
    capabilities: [tools, json_schema]
    context_window: 32768
    local_cost: {gpu_hour_usd: 2.0, gpus: 1, tokens_per_second: 2000}
  cheap:
    backend: openai
    model: cheap-model
    endpoints: ["http://127.0.0.1:10"]
    prices: {input_per_million: 0.15, output_per_million: 0.6}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
    latency: {ttft_ms: 100, tokens_per_second: 200}
  best:
    backend: openai
    model: best-model
    endpoints: ["http://127.0.0.1:11"]
    prices: {input_per_million: 2.5, output_per_million: 10}
    capabilities: [tools, vision, json_schema]
    context_window: 128000
    latency: {ttft_ms: 600, tokens_per_second: 60}
routes:
  - name: sensitive
    match: {sensitivity: [pii, confidential, secret]}
    candidates: [local, best]
    on_unavailable: reject
  - name: hard
    match: {task: [code, math], difficulty: {min: 0.7}}
    candidates: [cheap, best, local]
    objective: max_quality
  - name: fast
    match: {headers: {x-latency: low}}
    candidates: [best, cheap, local]
    objective: min_latency
  - name: capped
    match: {teams: [finance]}
    candidates: [best, cheap]
    objective: max_quality
    constraints: {max_cost_per_request_usd: 0.001}
  - name: default
    candidates: [best, cheap, local]
    objective: min_cost
    constraints: {min_quality: 0.6}
    fallbacks: [best]
quality:
  code: {local: 0.7, cheap: 0.6, best: 0.9}
  chat: {local: 0.8, cheap: 0.75, best: 0.9}
  math: {local: 0.5, cheap: 0.55, best: 0.85}
"""


def make_engine(unavailable: dict[str, str] | None = None) -> PolicyEngine:
    policy = parse_policy(POLICY, source="test.yaml", environ={})
    blocked = unavailable or {}
    return PolicyEngine(policy, PolicySignals(policy, blocked.get))


def classification(
    task: Task = Task.CHAT,
    difficulty: float = 0.2,
    sensitivity: Sensitivity = Sensitivity.NONE,
    capabilities: frozenset[Capability] = frozenset(),
    prompt_tokens: int = 100,
    findings: dict[str, int] | None = None,
) -> Classification:
    return Classification(
        task=task, difficulty=difficulty, sensitivity=sensitivity,
        findings=findings or {}, capabilities=capabilities, prompt_tokens=prompt_tokens,
    )


@pytest.mark.parametrize(
    ("c", "ctx", "route", "order"),
    [
        (classification(), RequestContext(), "default", ("local", "cheap", "best")),
        (classification(Task.CODE, 0.9), RequestContext(), "hard", ("best", "local", "cheap")),
        (classification(Task.CODE, 0.3), RequestContext(), "default", ("local", "cheap", "best")),
        (classification(sensitivity=Sensitivity.PII, findings={"email": 1}), RequestContext(),
         "sensitive", ("local",)),
        (classification(), RequestContext(headers={"x-latency": "low"}), "fast",
         ("cheap", "best", "local")),  # local's default prior (50 tok/s) is the slowest
        (classification(), RequestContext(team="finance"), "capped", ("cheap",)),
        (classification(), RequestContext(requested_model="hard"), "hard",
         ("best", "local", "cheap")),
        (classification(), RequestContext(requested_model="cheap"), "direct:cheap", ("cheap",)),
    ],
)
def test_routes_and_orders(
    c: Classification, ctx: RequestContext, route: str, order: tuple[str, ...]
) -> None:
    decision = make_engine().decide(c, ctx)
    assert decision.route == route
    assert decision.attempts == order
    assert decision.rejection is None


def test_min_quality_rejects_weak_candidates_with_reason() -> None:
    decision = make_engine().decide(classification(Task.MATH, 0.2), RequestContext())
    # local (0.5) and cheap (0.55) are below the route's 0.6 bar; best is kept as candidate
    assert decision.attempts == ("best",)
    reasons = {v.model: v.reason for v in decision.verdicts if v.role == "candidate"}
    assert "below the route's min_quality 0.60" in reasons["local"]
    assert "below the route's min_quality 0.60" in reasons["cheap"]
    kinds = {v.model: v.kind for v in decision.verdicts if v.role == "candidate"}
    assert kinds == {"local": VerdictKind.BELOW_MIN_QUALITY,
                     "cheap": VerdictKind.BELOW_MIN_QUALITY, "best": VerdictKind.ELIGIBLE}


def test_sensitive_never_external_even_when_named_or_listed() -> None:
    engine = make_engine()
    c = classification(sensitivity=Sensitivity.SECRET, findings={"api_key": 1})
    decision = engine.decide(c, RequestContext())
    assert "best" not in decision.attempts
    best = next(v for v in decision.verdicts if v.model == "best")
    assert not best.kept and "never goes to an external model" in best.reason
    assert "api_key x1" in best.reason

    direct = engine.decide(c, RequestContext(requested_model="best"))
    assert direct.attempts == ()
    assert direct.rejection is not None
    assert direct.rejection.status == 403
    assert direct.rejection.code == "sensitive_data_external_model"
    assert direct.rejection.kind is RejectionKind.SENSITIVE_EXTERNAL
    assert best.kind is VerdictKind.SENSITIVE_EXTERNAL

    via_route = engine.decide(c, RequestContext(requested_model="default"))
    assert set(via_route.attempts) == {"local"}


def test_sensitive_with_local_unavailable_fails_closed() -> None:
    engine = make_engine({"local": "circuit open"})
    decision = engine.decide(classification(sensitivity=Sensitivity.PII), RequestContext())
    assert decision.attempts == ()
    assert decision.fail_closed
    assert decision.rejection is not None
    assert decision.rejection.status == 503
    assert decision.rejection.code == "no_local_model_available"
    assert "nothing was sent" in decision.rejection.message


def test_capabilities_and_context_filter() -> None:
    engine = make_engine()
    vision = classification(capabilities=frozenset({Capability.VISION}))
    decision = engine.decide(vision, RequestContext())
    assert "local" not in decision.attempts
    local = next(v for v in decision.verdicts if v.model == "local")
    assert local.reason == "lacks capability: vision"

    long = classification(prompt_tokens=60_000)
    decision = engine.decide(long, RequestContext())
    assert "local" not in decision.attempts
    local = next(v for v in decision.verdicts if v.model == "local")
    assert "context" in local.reason and "32768" in local.reason


def test_unavailable_model_is_skipped_with_reason() -> None:
    engine = make_engine({"local": "circuit open after 5 consecutive failures"})
    decision = engine.decide(classification(), RequestContext())
    assert decision.attempts == ("cheap", "best")
    local = next(v for v in decision.verdicts if v.model == "local")
    assert local.reason.startswith("unavailable: circuit open")
    assert local.kind is VerdictKind.UNAVAILABLE


@pytest.mark.parametrize(
    ("unavailable", "allowed", "kind", "status"),
    [
        ({"cheap": "circuit open"}, None, RejectionKind.MODEL_UNAVAILABLE, 503),
        ({}, frozenset({"best"}), RejectionKind.MODEL_NOT_ALLOWED, 403),
    ],
)
def test_a_direct_rejection_takes_its_status_from_the_verdicts_kind(
    unavailable: dict[str, str], allowed: frozenset[str] | None, kind: RejectionKind, status: int
) -> None:
    decision = make_engine(unavailable).decide(
        classification(), RequestContext(requested_model="cheap", allowed_models=allowed))
    assert decision.rejection is not None
    assert decision.rejection.kind is kind
    assert decision.rejection.status == status and decision.rejection.code == kind.value
    out = decision.to_dict()["rejection"]
    assert isinstance(out, dict) and out["kind"] == kind.value and out["status"] == status


def test_a_reason_is_text_only_wording_changes_no_status() -> None:
    """Every rejection kind has one status; none is read back from a message."""
    statuses = {kind: kind.status for kind in RejectionKind}
    assert statuses[RejectionKind.ROUTE_NOT_ALLOWED] == 403
    assert statuses[RejectionKind.NO_MODEL_AVAILABLE] == 503
    assert statuses[RejectionKind.CONTEXT_LENGTH_EXCEEDED] == 400
    assert set(statuses.values()) == {400, 403, 503}


def test_allowed_models_and_routes() -> None:
    engine = make_engine()
    ctx = RequestContext(allowed_models=frozenset({"cheap"}))
    assert engine.decide(classification(), ctx).attempts == ("cheap",)
    refused = engine.decide(
        classification(), RequestContext(requested_model="hard",
                                         allowed_routes=frozenset({"default"}))
    )
    assert refused.rejection is not None and refused.rejection.status == 403


def test_unknown_model_raises() -> None:
    with pytest.raises(UnknownModel):
        make_engine().decide(classification(), RequestContext(requested_model="gpt-9"))


def test_explain_carries_numbers() -> None:
    decision = make_engine().decide(classification(), RequestContext())
    as_dict = decision.to_dict()
    assert as_dict["choice"] == "local"
    cheap = next(c for c in as_dict["candidates"] if c["model"] == "cheap")  # type: ignore[union-attr]
    assert cheap["expected_cost_usd"] > 0
    assert cheap["quality"] == 0.75


EXPLORE = POLICY.replace("""  - name: default
    candidates: [best, cheap, local]""", """  - name: default
    candidates: [best, cheap, local]
    explore_share: 0.25""")


def test_exploration_share_is_bounded_and_never_fail_closed() -> None:
    import random

    policy = parse_policy(EXPLORE, source="t", environ={})
    engine = PolicyEngine(policy, PolicySignals(policy), rng=random.Random(7))
    decisions = [engine.decide(classification(), RequestContext()) for _ in range(2000)]
    explored = [d for d in decisions if d.exploration]
    assert 0.2 < len(explored) / len(decisions) < 0.3
    assert {d.attempts[0] for d in explored} <= {"cheap", "best"}
    assert all(d.attempts[0] == "local" for d in decisions if not d.exploration)
    assert all(set(d.attempts) == {"local", "cheap", "best"} for d in explored)
    sensitive = [engine.decide(classification(sensitivity=Sensitivity.PII), RequestContext())
                 for _ in range(200)]
    assert not any(d.exploration for d in sensitive)
    assert not any(
        engine.decide(classification(sensitivity=Sensitivity.PII),
                      RequestContext(requested_model="default")).exploration
        for _ in range(200)
    )
