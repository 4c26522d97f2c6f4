"""Refusals that say what is wrong with the request, not with the policy."""

from __future__ import annotations

from router.classify.types import Capability, Classification, Sensitivity, Task
from router.policy.engine import PolicyEngine, RequestContext
from router.policy.loader import load_policy
from router.policy.signals import PolicySignals
from tests.unit.policy.test_default_policy import DEFAULT, ENV


def _classification(prompt_tokens: int, capabilities: frozenset[Capability] = frozenset()
                    ) -> Classification:
    return Classification(task=Task.CHAT, difficulty=0.2, sensitivity=Sensitivity.NONE,
                          capabilities=capabilities, prompt_tokens=prompt_tokens)


def _engine() -> PolicyEngine:
    policy = load_policy(DEFAULT, environ=ENV)
    return PolicyEngine(policy, PolicySignals(policy))


def test_a_prompt_too_long_for_every_model_says_so_and_names_the_largest_window() -> None:
    decision = _engine().decide(_classification(300_000), RequestContext(max_output_tokens=1000))
    assert decision.rejection is not None
    assert decision.rejection.status == 400
    assert decision.rejection.code == "context_length_exceeded"
    message = decision.rejection.message
    assert "301000 tokens" in message and "262144 (qwen-local)" in message
    assert "catch-all" not in message


def test_a_prompt_that_fits_the_local_window_only_is_served_there() -> None:
    decision = _engine().decide(_classification(200_000), RequestContext())
    assert decision.rejection is None and decision.attempts == ("qwen-local",)


def test_a_missing_capability_is_named() -> None:
    policy = load_policy(DEFAULT, environ=ENV)
    # Drop every model's declared capabilities: nothing can take tools.
    models = {n: m.model_copy(update={"capabilities": []}) for n, m in policy.models.items()}
    bare = policy.model_copy(update={"models": models})
    engine = PolicyEngine(bare, PolicySignals(bare))
    decision = engine.decide(_classification(100, frozenset({Capability.TOOLS})),
                             RequestContext())
    assert decision.rejection is not None
    assert decision.rejection.code == "model_cannot_serve_request"
    assert "qwen-local lacks tools" in decision.rejection.message
