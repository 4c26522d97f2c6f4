"""The policy engine: classification + request context -> an explained `Decision`. Pure.

Order of work: resolve the target (``auto`` -> first matching route; a route name; a model
name) -> filter every model it could use (permissions, residency, capabilities, context,
availability, constraints) -> order the survivors by the route's objective -> fallbacks last.
A sensitive request is never given an external model, whichever way it arrives.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace

from router.classify.types import TOKEN_IDS, Capability, Classification
from router.policy.decision import (
    Decision,
    PromptScorer,
    QualityView,
    Rejection,
    RejectionKind,
    RequestContext,
    Role,
    RoutingSignals,
    SpillCheck,
    Verdict,
    VerdictKind,
)
from router.policy.schema import Match, ModelSpec, Objective, Policy, Reasoning, Route, Spill

__all__ = [
    "Decision",
    "PolicyEngine",
    "PromptScorer",
    "QualityView",
    "Rejection",
    "RejectionKind",
    "RequestContext",
    "RoutingSignals",
    "UnknownModel",
    "Verdict",
    "VerdictKind",
]


# A model named directly and rejected: the verdict's kind picks the status and code.
_DIRECT_REJECTION = {
    VerdictKind.NOT_ALLOWED: RejectionKind.MODEL_NOT_ALLOWED,
    VerdictKind.UNAVAILABLE: RejectionKind.MODEL_UNAVAILABLE,
}


class UnknownModel(LookupError):
    """The request named neither `auto`, a route nor a model of the policy."""


class PolicyEngine:
    """Decides, for one policy, which models may serve a request and in what order."""

    def __init__(
        self,
        policy: Policy,
        signals: RoutingSignals,
        rng: random.Random | None = None,
        scorers: Mapping[str, PromptScorer] | None = None,
    ) -> None:
        self.policy = policy
        self.signals = signals
        self.rng = rng or random.Random()
        self.scorers = dict(scorers or {})
        self._routes = {route.name: route for route in policy.routes}

    def decide(self, classification: Classification, ctx: RequestContext) -> Decision:
        requested = ctx.requested_model
        if requested == "auto":
            if ctx.kind == "embedding":
                return self._default_embedding_route(classification, ctx)
            route = self._first_match(classification, ctx)
            if route is None:
                return self._no_route(classification, ctx)
            return self._decide_route(route, classification, ctx)
        if requested in self._routes:
            route = self._routes[requested]
            kind = self.policy.route_kind(route)
            if kind != ctx.kind:
                return self._wrong_kind(f"route {requested!r}", kind, classification, ctx)
            if ctx.allowed_routes is not None and requested not in ctx.allowed_routes:
                return self._refuse(
                    requested, classification, RejectionKind.ROUTE_NOT_ALLOWED,
                    f"route {requested!r} is not allowed for this key or team; allowed: "
                    f"{', '.join(sorted(ctx.allowed_routes)) or 'none'}",
                )
            return self._decide_route(route, classification, ctx)
        if requested in self.policy.models:
            kind = self.policy.models[requested].kind
            if kind != ctx.kind:
                return self._wrong_kind(f"model {requested!r}", kind, classification, ctx)
            return self._decide_direct(requested, classification, ctx)
        raise UnknownModel(requested)

    def _default_embedding_route(
        self, classification: Classification, ctx: RequestContext
    ) -> Decision:
        name = self.policy.defaults.embedding_route
        if name is None:
            return self._refuse(
                "none", classification, RejectionKind.NO_MATCHING_ROUTE,
                "this policy sets no defaults.embedding_route, so 'auto' means nothing on "
                "/v1/embeddings; name an embedding model or route, or set one",
            )
        if ctx.allowed_routes is not None and name not in ctx.allowed_routes:
            return self._refuse(
                name, classification, RejectionKind.ROUTE_NOT_ALLOWED,
                f"route {name!r} (the policy's default embedding route) is not allowed for "
                f"this key or team; allowed: {', '.join(sorted(ctx.allowed_routes)) or 'none'}",
            )
        return self._decide_route(self._routes[name], classification, ctx)

    def _wrong_kind(
        self, what: str, kind: str, classification: Classification, ctx: RequestContext
    ) -> Decision:
        door = "/v1/embeddings" if ctx.kind == "embedding" else "the chat door"
        served = sorted([
            *(n for n, s in self.policy.models.items() if s.kind == ctx.kind),
            *(r.name for r in self.policy.routes if self.policy.route_kind(r) == ctx.kind),
        ])
        return self._refuse(
            "none", classification, RejectionKind.WRONG_MODEL_KIND,
            f"{what} serves {kind} requests, not {ctx.kind} requests on {door}; use 'auto' or "
            f"one of: {', '.join(served) or 'none'}",
        )

    def matches(self, route: Route, classification: Classification, ctx: RequestContext) -> bool:
        if ctx.allowed_routes is not None and route.name not in ctx.allowed_routes:
            return False
        return _match(route.match, classification, ctx)

    # -- resolution ------------------------------------------------------------------------

    def _first_match(self, classification: Classification, ctx: RequestContext) -> Route | None:
        # Capabilities filter first: a route none of whose models could take the request
        # (tools, vision, schema, context) is passed over for the next matching one.
        for route in self.policy.routes:
            if self.policy.route_kind(route) != ctx.kind:
                continue
            if self.matches(route, classification, ctx) and self._capable(
                route, classification, ctx
            ):
                return route
        return None

    def _capable(self, route: Route, c: Classification, ctx: RequestContext) -> bool:
        needed = c.prompt_tokens + (ctx.max_output_tokens or 256)
        for name in (*route.candidates, *route.fallbacks):
            spec = self.policy.models[name]
            if not _missing_capabilities(spec, c) and needed <= spec.context_window:
                return True
        return False

    def _decide_route(
        self, route: Route, classification: Classification, ctx: RequestContext
    ) -> Decision:
        names: list[tuple[str, Role]] = [(m, "candidate") for m in route.candidates]
        extra = list(route.fallbacks)
        if route.on_unavailable == "fallback":
            kind = self.policy.route_kind(route)
            extra += [m for m in self.policy.defaults.fallbacks
                      if self.policy.models[m].kind == kind]
        seen = set(route.candidates)
        for name in extra:
            if name not in seen:
                seen.add(name)
                names.append((name, "fallback"))
        local_only = (
            ctx.budget_pressure if route.on_budget_soft_limit == "local_only" else None
        )
        verdicts = [self._judge(n, role, route, classification, ctx, local_only)
                    for n, role in names]
        if local_only and not any(v.kept for v in verdicts):
            # No local model can take it: serve as usual; the hard limit still holds.
            verdicts = [self._judge(n, role, route, classification, ctx) for n, role in names]
        fail_closed = (
            route.on_unavailable == "reject"
            or classification.is_sensitive
            or _keeps_unscannable_local(route, classification)
        )
        checks: list[SpillCheck] = []
        if route.spill is not None:
            verdicts = [self._spill(v, route.spill, fail_closed, checks) for v in verdicts]
        primaries = [v for v in verdicts if v.kept and v.role == "candidate"]
        fallbacks = [v for v in verdicts if v.kept and v.role == "fallback"]
        ordered = _order(primaries, route.objective)
        prompt_score = prompt_score_threshold = None
        scorer = self.scorers.get(route.name)
        if route.scorer is not None and scorer is not None and len(ordered) > 1:
            prompt_score = scorer.score_messages(ctx.messages)
            threshold = route.scorer.threshold
            if threshold is None:
                threshold = scorer.threshold if scorer.threshold is not None else 0.0
            prompt_score_threshold = threshold
            first = route.scorer.strong if prompt_score >= threshold else route.scorer.weak
            ordered.sort(key=lambda v: v.model != first)  # stable: the rest keep their order
        # Saturated local models go behind the others; they stay as a last resort.
        ordered = [v for v in ordered if not v.spilled] + [v for v in ordered if v.spilled]
        exploration = False
        if route.explore_share and not fail_closed and len(ordered) > 1 \
                and not ordered[0].spilled and self.rng.random() < route.explore_share:
            # Try another eligible candidate first; the usual choice stays next in line.
            pick = self.rng.choice([v for v in ordered[1:] if not v.spilled] or ordered[1:])
            ordered.remove(pick)
            ordered.insert(0, pick)
            exploration = True
        ordered += fallbacks
        attempts = tuple(v.model for v in ordered)
        rejection = None
        if not attempts:
            rejection = _nothing_left(route, classification, verdicts)
        spilled = bool(ordered) and any(v.spilled for v in primaries) and not ordered[0].spilled
        return Decision(
            route=route.name,
            objective=route.objective,
            attempts=attempts,
            verdicts=tuple(verdicts),
            classification=classification,
            fail_closed=fail_closed,
            rejection=rejection,
            extra_body=route.extra_body,
            local_extra_body=_reasoning_body(route.reasoning, classification),
            spilled=spilled,
            exploration=exploration,
            prompt_score=prompt_score,
            prompt_score_threshold=prompt_score_threshold,
            strong_share=route.scorer.strong_share if route.scorer is not None else None,
            unscannable_policy="local" if classification.unscannable.get(TOKEN_IDS)
            else route.unscannable,
            spill_checks=tuple(checks),
        )

    def _spill(
        self, verdict: Verdict, spill: Spill, fail_closed: bool, checks: list[SpillCheck]
    ) -> Verdict:
        if not verdict.kept or self.policy.models[verdict.model].backend != "local":
            return verdict
        reason = self.signals.saturation(verdict.model, spill)
        if verdict.load is not None:
            # Only a model the probe has seen has a state to move (as before the split).
            checks.append(SpillCheck(verdict.model, spill, reason is not None))
        if reason is None:
            return verdict
        if fail_closed:
            waiting = (verdict.load or {}).get("waiting", 0.0)
            bound = spill.fail_closed_max_waiting
            if bound is not None and waiting > bound:
                return replace(verdict, kept=False, kind=VerdictKind.QUEUE_FULL,
                               saturation=reason, reason=(
                    f"local queue full: {waiting:.0f} waiting > fail_closed_max_waiting {bound} "
                    "(fail-closed route: never spills)"))
            return replace(verdict, kind=VerdictKind.SATURATED_QUEUES, saturation=reason,
                           reason=f"saturated ({reason}) but fail-closed: queues here")
        return replace(verdict, spilled=True, kind=VerdictKind.SPILLED, saturation=reason,
                       reason=f"spilled: local saturated ({reason})")

    def _decide_direct(
        self, model: str, classification: Classification, ctx: RequestContext
    ) -> Decision:
        verdict = self._judge(model, "candidate", None, classification, ctx)
        rejection = None
        if not verdict.kept:
            sensitive_external = classification.is_sensitive and verdict.residency == "external"
            rejection = Rejection(
                kind=RejectionKind.SENSITIVE_EXTERNAL if sensitive_external
                else _DIRECT_REJECTION.get(verdict.kind, RejectionKind.CANNOT_SERVE),
                message=f"model {model!r} cannot serve this request: {verdict.reason}",
            )
        return Decision(
            route=f"direct:{model}",
            objective="direct",
            attempts=(model,) if verdict.kept else (),
            verdicts=(verdict,),
            classification=classification,
            fail_closed=True,
            rejection=rejection,
        )

    def _no_route(self, classification: Classification, ctx: RequestContext) -> Decision:
        matching = [r for r in self.policy.routes if self.policy.route_kind(r) == ctx.kind
                    and self.matches(r, classification, ctx)]
        if matching:
            # Routes matched but none has a model that can take the request: say what is wrong
            # with the request, not with the policy.
            return self._cannot_serve(matching, classification, ctx)
        return self._refuse(
            "none", classification, RejectionKind.NO_MATCHING_ROUTE,
            "no route of the policy matches this request and the policy has no catch-all route; "
            "name a model or route, or add a route without 'match'",
        )

    def _cannot_serve(
        self, routes: list[Route], c: Classification, ctx: RequestContext
    ) -> Decision:
        output = ctx.max_output_tokens or 256
        needed = c.prompt_tokens + output
        names = dict.fromkeys(n for r in routes for n in (*r.candidates, *r.fallbacks))
        largest = max(names, key=lambda n: self.policy.models[n].context_window)
        window = self.policy.models[largest].context_window
        if needed > window:
            return self._refuse(
                "none", c, RejectionKind.CONTEXT_LENGTH_EXCEEDED,
                f"this request needs about {needed} tokens of context ({c.prompt_tokens} of "
                f"prompt + {output} for the answer, max_tokens); the largest context window of "
                f"the models it may use is {window} ({largest}); shorten the messages or "
                "lower max_tokens",
            )
        reasons = []
        for name in names:
            spec = self.policy.models[name]
            missing = _missing_capabilities(spec, c)
            if missing:
                reasons.append(f"{name} lacks {', '.join(missing)}")
            elif needed > spec.context_window:
                reasons.append(f"{name}'s window {spec.context_window} < {needed} tokens")
        detail = "; ".join(reasons)
        return self._refuse(
            "none", c, RejectionKind.CANNOT_SERVE,
            f"no model this request may use can serve it: {detail}",
        )

    def _refuse(
        self, route: str, classification: Classification, kind: RejectionKind, message: str
    ) -> Decision:
        return Decision(
            route=route, objective="direct", attempts=(), verdicts=(),
            classification=classification, fail_closed=True,
            rejection=Rejection(kind, message),
        )

    # -- judging one model -------------------------------------------------------------------

    def _judge(
        self,
        name: str,
        role: Role,
        route: Route | None,
        classification: Classification,
        ctx: RequestContext,
        local_only: str | None = None,
    ) -> Verdict:
        spec = self.policy.models[name]
        residency = spec.effective_residency

        def reject(kind: VerdictKind, reason: str, **numbers: float | str | None) -> Verdict:
            return Verdict(name, role, False, reason, residency, kind=kind,
                           **numbers)  # type: ignore[arg-type]

        if ctx.allowed_models is not None and name not in ctx.allowed_models:
            return reject(VerdictKind.NOT_ALLOWED, "not allowed for this key or team")
        if classification.is_sensitive and residency == "external":
            return reject(
                VerdictKind.SENSITIVE_EXTERNAL,
                f"sensitive request ({_findings_text(classification)}) never goes to an "
                "external model"
            )
        if (
            route is not None
            and residency == "external"
            and _keeps_unscannable_local(route, classification)
        ):
            return reject(
                VerdictKind.UNSCANNABLE_LOCAL,
                f"holds content that cannot be scanned ({_unscannable_text(classification)}); "
                f"route {route.name!r} keeps such requests on local models (unscannable: local)"
            )
        if local_only and residency == "external":
            return reject(VerdictKind.BUDGET_LOCAL_ONLY,
                          f"{local_only}: this route keeps to local models")
        missing = _missing_capabilities(spec, classification)
        if missing:
            return reject(VerdictKind.LACKS_CAPABILITY, f"lacks capability: {', '.join(missing)}")
        # An embedding model's window bounds each input, which the door checks one by one.
        needed = classification.prompt_tokens + (ctx.max_output_tokens or 256)
        if spec.kind == "chat" and needed > spec.context_window:
            return reject(
                VerdictKind.CONTEXT_TOO_SMALL,
                f"needs about {needed} tokens of context; its window is {spec.context_window}"
            )
        unavailable = self.signals.unavailable_reason(name)
        if unavailable is not None:
            return reject(VerdictKind.UNAVAILABLE, f"unavailable: {unavailable}")

        task = classification.task
        quality = self.signals.quality(task, name)
        out_tokens = float(ctx.max_output_tokens) if ctx.max_output_tokens else 0.0
        expected_out = (self.signals.expected_output_tokens(task, name)
                        if spec.kind == "chat" else 0.0)
        if out_tokens:
            expected_out = min(expected_out, out_tokens)
        cost = self.signals.price(name).cost(classification.prompt_tokens, int(expected_out))
        latency = self.signals.expected_latency_ms(task, name, expected_out)
        numbers: dict[str, float | str | None] = {
            "quality": quality.mean,
            "quality_source": quality.source,
            "expected_cost_usd": cost,
            "expected_latency_ms": latency,
        }
        if route is not None and role == "candidate":
            limits = route.constraints
            if limits.min_quality is not None and quality.mean < limits.min_quality:
                return reject(
                    VerdictKind.BELOW_MIN_QUALITY,
                    f"quality {quality.mean:.2f} for {task.value} is below the route's "
                    f"min_quality {limits.min_quality:.2f}",
                    **numbers,
                )
            cap = limits.max_cost_per_request_usd
            if cap is not None and cost > cap:
                return reject(
                    VerdictKind.OVER_MAX_COST,
                    f"expected cost ${cost:.6f} is over the route's max_cost_per_request_usd "
                    f"${cap:.6f}",
                    **numbers,
                )
            if limits.max_latency_ms is not None and latency > limits.max_latency_ms:
                return reject(
                    VerdictKind.OVER_MAX_LATENCY,
                    f"expected latency {latency:.0f} ms is over the route's max_latency_ms "
                    f"{limits.max_latency_ms:.0f}",
                    **numbers,
                )
        load = self.signals.local_load(name) if spec.backend == "local" else None
        return Verdict(name, role, True, "eligible", residency, load=load,
                       **numbers)  # type: ignore[arg-type]


def _reasoning_body(reasoning: Reasoning | None, c: Classification) -> dict[str, object]:
    """What a route's thinking control adds to requests for local (Qwen3.5) models."""
    if reasoning is None:
        return {}
    if reasoning.thinking == "auto":
        enable = c.task in reasoning.tasks and c.difficulty >= reasoning.min_difficulty
    else:
        enable = reasoning.thinking == "on"
    body: dict[str, object] = {"chat_template_kwargs": {"enable_thinking": enable}}
    if enable and reasoning.budget_tokens is not None:
        body["thinking_token_budget"] = reasoning.budget_tokens
    return body


def _order(verdicts: list[Verdict], objective: Objective) -> list[Verdict]:
    def cost(v: Verdict) -> float:
        return v.expected_cost_usd or 0.0

    def quality(v: Verdict) -> float:
        return v.quality or 0.0

    def latency(v: Verdict) -> float:
        return v.expected_latency_ms or 0.0

    if objective == "min_cost":
        return sorted(verdicts, key=lambda v: (round(cost(v), 9), -quality(v)))
    if objective == "max_quality":
        return sorted(verdicts, key=lambda v: (-round(quality(v), 4), cost(v)))
    return sorted(verdicts, key=lambda v: (latency(v), cost(v)))


def _match(match: Match, c: Classification, ctx: RequestContext) -> bool:
    if match.task is not None and c.task not in match.task:
        return False
    if match.difficulty is not None and not match.difficulty.contains(c.difficulty):
        return False
    if match.sensitivity is not None and c.sensitivity not in match.sensitivity:
        return False
    if match.capabilities is not None and not set(match.capabilities) <= c.capabilities:
        return False
    if match.prompt_tokens is not None and not match.prompt_tokens.contains(c.prompt_tokens):
        return False
    if match.headers is not None:
        for name, value in match.headers.items():
            if ctx.headers.get(name.lower()) != value:
                return False
    if match.keys is not None and ctx.key_id not in match.keys:
        return False
    return match.teams is None or ctx.team in match.teams


def _missing_capabilities(spec: ModelSpec, c: Classification) -> list[str]:
    if not c.capabilities:  # most requests need none; this runs per model and request
        return []
    declared = set(spec.capabilities)
    return sorted(
        cap.value
        for cap in c.capabilities
        if cap is not Capability.LONG_CONTEXT and cap not in declared
    )


def _findings_text(c: Classification) -> str:
    if not c.findings:
        return c.sensitivity.value
    kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(c.findings.items()))
    return f"{c.sensitivity.value}: {kinds}"


def _keeps_unscannable_local(route: Route, c: Classification) -> bool:
    # Token ids (embedding input) are text Junction cannot read: local whatever the route says.
    return bool(c.unscannable.get(TOKEN_IDS)) or (
        route.unscannable == "local" and any(c.unscannable.values()))


def _unscannable_text(c: Classification) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(c.unscannable.items()))


def _nothing_left(route: Route, c: Classification, verdicts: list[Verdict]) -> Rejection:
    reasons = "; ".join(f"{v.model}: {v.reason}" for v in verdicts) or "no models"
    if c.is_sensitive:
        return Rejection(
            RejectionKind.NO_LOCAL_MODEL_AVAILABLE,
            f"route {route.name!r}: this request is {_findings_text(c)} and must stay on local "
            f"models, but none can serve it now (fail-closed; nothing was sent). {reasons}",
        )
    if _keeps_unscannable_local(route, c):
        return Rejection(
            RejectionKind.NO_LOCAL_MODEL_AVAILABLE,
            f"route {route.name!r}: this request holds content that cannot be scanned "
            f"({_unscannable_text(c)}) and the route keeps such requests on local models, but "
            f"none can serve it now (fail-closed; nothing was sent). {reasons}",
        )
    return Rejection(
        RejectionKind.NO_MODEL_AVAILABLE,
        f"route {route.name!r}: no model can serve this request. {reasons}",
    )
