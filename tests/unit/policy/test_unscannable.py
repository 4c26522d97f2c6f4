"""`unscannable: local` keeps requests with images, audio or binary files on local models."""

from __future__ import annotations

import pytest

from router.classify.types import Capability, Classification, Sensitivity, Task
from router.policy.engine import PolicyEngine, RequestContext
from router.policy.loader import parse_policy
from router.policy.schema import Policy
from router.policy.signals import PolicySignals

POLICY = """
models:
  local:
    backend: local
    model: qwen
    endpoints: ["http://127.0.0.1:9"]
    capabilities: [vision]
    context_window: 32768
  api:
    backend: openai
    model: api-model
    endpoints: ["http://127.0.0.1:10"]
    prices: {input_per_million: 0.15, output_per_million: 0.6}
    capabilities: [vision]
    context_window: 128000
routes:
  - name: careful
    match: {headers: {x-team: legal}}
    candidates: [api, local]
    unscannable: local
  - name: default
    candidates: [api, local]
quality:
  chat: {local: 0.8, api: 0.8}
"""


def engine(unavailable: dict[str, str] | None = None) -> PolicyEngine:
    policy = parse_policy(POLICY, source="test.yaml", environ={})
    return PolicyEngine(policy, PolicySignals(policy, (unavailable or {}).get))


def image_request(unscannable: dict[str, int] | None = None) -> Classification:
    return Classification(task=Task.CHAT, difficulty=0.2, sensitivity=Sensitivity.NONE,
                          capabilities=frozenset({Capability.VISION}), prompt_tokens=900,
                          unscannable={"image": 1} if unscannable is None else unscannable)


LEGAL = RequestContext(headers={"x-team": "legal"})


def test_default_is_allow_so_vision_requests_still_reach_apis() -> None:
    policy = parse_policy(POLICY, source="test.yaml", environ={})
    assert next(r for r in policy.routes if r.name == "default").unscannable == "allow"
    decision = engine().decide(image_request(), RequestContext())
    assert decision.route == "default" and "api" in decision.attempts
    assert decision.unscannable_policy == "allow"
    assert not decision.fail_closed


def test_local_keeps_unscannable_content_on_local_models_with_a_reason() -> None:
    decision = engine().decide(image_request(), LEGAL)
    assert decision.route == "careful"
    assert decision.attempts == ("local",)
    assert decision.fail_closed
    api = next(v for v in decision.verdicts if v.model == "api")
    assert not api.kept
    assert "cannot be scanned (image x1)" in api.reason and "unscannable: local" in api.reason
    out = decision.to_dict()
    assert out["unscannable_policy"] == "local"
    assert out["classification"]["unscannable"] == {"image": 1}  # type: ignore[index]


def test_local_route_without_local_capacity_fails_closed() -> None:
    decision = engine({"local": "circuit open"}).decide(image_request(), LEGAL)
    assert decision.attempts == ()
    assert decision.rejection is not None
    assert decision.rejection.status == 503
    assert decision.rejection.code == "no_local_model_available"
    assert "cannot be scanned" in decision.rejection.message
    assert "nothing was sent" in decision.rejection.message


@pytest.mark.parametrize("counts", [{}, {"image": 0}])
def test_scannable_requests_use_every_model_on_a_local_route(counts: dict[str, int]) -> None:
    decision = engine().decide(image_request(counts), LEGAL)
    assert set(decision.attempts) == {"api", "local"}


def test_only_local_or_allow_is_accepted() -> None:
    with pytest.raises(ValueError, match="unscannable"):
        Policy.model_validate({
            "models": {"m": {"backend": "openai", "model": "x", "endpoints": ["http://h"],
                             "context_window": 1000}},
            "routes": [{"name": "r", "candidates": ["m"], "unscannable": "block"}],
        })


def test_a_model_named_directly_is_judged_by_its_residency_alone() -> None:
    decision = engine().decide(image_request(), RequestContext(requested_model="api"))
    assert decision.attempts == ("api",)
    assert decision.unscannable_policy == "allow"
