"""Embedding models and routes in a policy: validation, and how the engine keeps the kinds
apart (auto on each door, a model of the wrong kind, token-id input kept local)."""

from __future__ import annotations

import pytest

from router.classify.types import TOKEN_IDS, Classification, Sensitivity, Task
from router.policy.decision import RejectionKind, RequestContext
from router.policy.engine import PolicyEngine
from router.policy.loader import PolicyError, parse_policy
from router.policy.signals import PolicySignals

POLICY = """
models:
  chat:
    backend: local
    model: qwen
    endpoints: ["http://127.0.0.1:9"]
  embed-local:
    backend: local
    kind: embedding
    model: bge
    dimensions: 1024
    endpoints: ["http://127.0.0.1:9"]
    local_cost: {gpu_hour_usd: 50.0, tokens_per_second: 100, mode: average}
  embed-api:
    backend: openai
    kind: embedding
    model: text-embedding-3-small
    endpoints: ["http://127.0.0.1:10/v1"]
    prices: {input_per_million: 0.02}
routes:
  - name: embed
    candidates: [embed-api, embed-local]
  - name: default
    candidates: [chat]
defaults:
  fallbacks: [chat, embed-local]
  embedding_route: embed
"""


def engine(text: str = POLICY) -> PolicyEngine:
    policy = parse_policy(text, source="test.yaml", environ={})
    return PolicyEngine(policy, PolicySignals(policy, lambda model: None))


def classified(sensitivity: Sensitivity = Sensitivity.NONE,
               unscannable: dict[str, int] | None = None) -> Classification:
    return Classification(task=Task.CHAT, difficulty=0.1, sensitivity=sensitivity,
                          prompt_tokens=20, unscannable=unscannable or {},
                          findings={"email": 1} if sensitivity is not Sensitivity.NONE else {})


def test_auto_means_the_default_embedding_route_on_the_embeddings_door() -> None:
    decision = engine().decide(classified(), RequestContext(kind="embedding"))
    assert decision.route == "embed"
    # Cheapest first; defaults.fallbacks adds only models of the route's kind.
    assert decision.attempts == ("embed-api", "embed-local")


def test_auto_on_the_chat_door_never_picks_an_embedding_route() -> None:
    decision = engine().decide(classified(), RequestContext())
    assert decision.route == "default" and decision.attempts == ("chat",)


def test_sensitive_input_keeps_to_local_embedding_models() -> None:
    decision = engine().decide(classified(Sensitivity.PII), RequestContext(kind="embedding"))
    assert decision.attempts == ("embed-local",) and decision.fail_closed


def test_token_ids_keep_to_local_models_whatever_the_route_says() -> None:
    decision = engine().decide(classified(unscannable={TOKEN_IDS: 1}),
                               RequestContext(kind="embedding"))
    assert decision.attempts == ("embed-local",)
    assert decision.unscannable_policy == "local" and decision.fail_closed


@pytest.mark.parametrize(("kind", "requested"), [
    ("embedding", "chat"), ("embedding", "default"), ("chat", "embed-api"), ("chat", "embed"),
])
def test_a_model_or_route_of_the_other_kind_is_refused(kind: str, requested: str) -> None:
    ctx = RequestContext(requested_model=requested, kind=kind)  # type: ignore[arg-type]
    decision = engine().decide(classified(), ctx)
    assert decision.rejection is not None
    assert decision.rejection.kind is RejectionKind.WRONG_MODEL_KIND
    assert decision.rejection.status == 400
    assert decision.attempts == ()


def test_auto_without_an_embedding_route_says_how_to_set_one() -> None:
    text = POLICY.replace("  embedding_route: embed\n", "")
    decision = engine(text).decide(classified(), RequestContext(kind="embedding"))
    assert decision.rejection is not None
    assert "defaults.embedding_route" in decision.rejection.message


@pytest.mark.parametrize(("change", "message"), [
    (("candidates: [embed-api, embed-local]", "candidates: [embed-api, chat]"),
     "mixes kinds"),
    (("  embedding_route: embed", "  embedding_route: default"), "is a chat route"),
    (("    model: text-embedding-3-small\n", "    model: text-embedding-3-small\n"
      "    dimensions: 1536\n"), "mixes embedding dimensions"),
    (("  embedding_route: embed", "  embedding_route: nowhere"), "is not a route"),
    (("    model: qwen\n", "    model: qwen\n    dimensions: 8\n"), "for embedding models"),
    (("    model: bge\n", "    model: bge\n    capabilities: [tools]\n"), "are for chat models"),
    (("    kind: embedding\n    model: text-embedding-3-small\n",
      "    model: text-embedding-3-small\n"), "need output_per_million"),
    (("    kind: embedding\n    model: bge", "    kind: vector\n    model: bge"), "kind"),
    (("    dimensions: 1024", "    dimensions: 0"), "dimensions"),
    (("  - name: embed\n", "  - name: embed\n    judge: {model: embed-api}\n"),
     "'judge' is for chat routes"),
])
def test_policy_errors_name_what_is_wrong(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in POLICY
    with pytest.raises(PolicyError) as error:
        parse_policy(POLICY.replace(old, new), source="test.yaml", environ={})
    assert message in str(error.value)


def test_a_policy_without_embeddings_is_unchanged() -> None:
    text = """
models:
  chat:
    backend: openai
    model: gpt
    endpoints: ["http://127.0.0.1:10/v1"]
    prices: {input_per_million: 1, output_per_million: 2}
routes:
  - name: default
    candidates: [chat]
"""
    policy = parse_policy(text, source="test.yaml", environ={})
    assert policy.models["chat"].kind == "chat"
    assert policy.defaults.embedding_route is None


def test_policy_check_warns_about_embedding_routes_it_cannot_use() -> None:
    from router.policy.check import policy_warnings

    text = POLICY.replace("  embedding_route: embed\n", "").replace(
        "  - name: embed\n", "  - name: embed\n    match: {task: [code]}\n")
    warnings = policy_warnings(parse_policy(text, source="test.yaml", environ={}))
    assert any("'match' is never used" in w for w in warnings)
    assert any("no defaults.embedding_route" in w for w in warnings)
    # Embedding routes neither shadow chat routes nor count as the chat catch-all.
    assert not any("can never match" in w or "catch-all" in w for w in warnings)
