"""`junction policy check`: load each file and warn about routes that can never match or serve."""

from __future__ import annotations

from router.classify.types import Sensitivity
from router.policy.pricing import resolve_price
from router.policy.schema import Match, Policy, Route


def policy_warnings(policy: Policy) -> list[str]:
    warnings: list[str] = list(policy.deprecations)
    chat_routes = [r for r in policy.routes if policy.route_kind(r) == "chat"]
    warnings.extend(_embedding_warnings(policy))
    for index, route in enumerate(chat_routes):
        for earlier in chat_routes[:index]:
            if _covers(earlier.match, route.match):
                warnings.append(
                    f"route {route.name!r} can never match: route {earlier.name!r} before it "
                    "takes every request it would"
                )
                break
        warnings.extend(_route_warnings(policy, route))
    for name, spec in policy.models.items():
        if spec.effective_residency == "external" and resolve_price(spec).source == "unknown":
            warnings.append(
                f"model {name!r} has no price: set 'prices' (litellm's cost map does not know "
                f"{spec.model!r}); its cost counts as $0"
            )
    if not any(route.match == Match() for route in chat_routes):
        warnings.append(
            "no catch-all route (one without 'match'): requests that match no route get 400 "
            "unless they name a model"
        )
    return warnings


def _embedding_warnings(policy: Policy) -> list[str]:
    """Embedding routes are never matched: `auto` on /v1/embeddings means one set route."""
    out: list[str] = []
    routes = [r for r in policy.routes if policy.route_kind(r) == "embedding"]
    for route in routes:
        if route.match != Match():
            out.append(f"route {route.name!r} serves embeddings, whose routes are chosen by "
                       "name or defaults.embedding_route; its 'match' is never used")
    if routes and policy.defaults.embedding_route is None:
        out.append("embedding routes but no defaults.embedding_route: 'model: auto' on "
                   "/v1/embeddings gets 400; set it to one of: "
                   + ", ".join(r.name for r in routes))
    return out


def _route_warnings(policy: Policy, route: Route) -> list[str]:
    out: list[str] = []
    match = route.match
    for label, rng in (("difficulty", match.difficulty), ("prompt_tokens", match.prompt_tokens)):
        if rng is not None and rng.min is not None and rng.max is not None and rng.min > rng.max:
            out.append(f"route {route.name!r} can never match: {label} min {rng.min} > "
                       f"max {rng.max}")
    if match.difficulty is not None and match.difficulty.min is not None \
            and match.difficulty.min > 1:
        out.append(f"route {route.name!r} can never match: difficulty is at most 1")
    models = [policy.models[m] for m in (*route.candidates, *route.fallbacks)]
    if match.capabilities:
        needed = {c for c in match.capabilities if c.value != "long_context"}
        if not any(needed <= set(spec.capabilities) for spec in models):
            out.append(f"route {route.name!r} can never serve: none of its models has "
                       f"{', '.join(sorted(c.value for c in needed))}")
    sensitive_only = match.sensitivity is not None and Sensitivity.NONE not in match.sensitivity
    if sensitive_only and all(spec.effective_residency == "external" for spec in models):
        out.append(f"route {route.name!r} can never serve: it takes only sensitive requests "
                   "and all its models are external")
    return out


def _covers(earlier: Match, later: Match) -> bool:
    """True when every request `later` matches is already taken by `earlier`."""
    if earlier == Match():
        return True
    return earlier == later
