"""What-if: the recorded requests of a window replayed through a candidate policy's decision.

No model is called and no prompt text is read: each record's classification and caller (its
key's and team's allow-lists, read from the same cache serving reads) go to the candidate's
engine, which sees today's live signals. The answer sets it against what was decided then.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from router.accounts.models import Limits, Principal
from router.accounts.principals import principal_for
from router.accounts.service import AccessService
from router.classify.types import Capability, Classification, Sensitivity, Task
from router.errors import JunctionError
from router.policy.decision import QualityView, RequestContext, RoutingSignals
from router.policy.engine import PolicyEngine, UnknownModel
from router.policy.pricing import ModelPrice
from router.policy.schema import Spill
from router.runtime import PolicyRuntime

_SHOWN = 100  # request ids listed per category; the counts are complete

PrincipalLookup = Callable[[str | None, str | None], Awaitable[Principal | None]]


@dataclass
class WhatIfReport:
    """Before (as recorded) and after (as the candidate would decide), over one window."""

    requests: int = 0
    routes_before: Counter[str] = field(default_factory=Counter)
    routes_after: Counter[str] = field(default_factory=Counter)
    models_before: Counter[str] = field(default_factory=Counter)
    models_after: Counter[str] = field(default_factory=Counter)
    cost_before_usd: float = 0.0
    cost_after_usd: float = 0.0
    newly_rejected: Counter[str] = field(default_factory=Counter)
    newly_rejected_ids: list[str] = field(default_factory=list)
    fail_closed: int = 0
    fail_closed_ids: list[str] = field(default_factory=list)
    sensitive_changed: int = 0
    sensitive_changes: list[dict[str, Any]] = field(default_factory=list)
    unknown_callers: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "routes": {"before": dict(self.routes_before), "after": dict(self.routes_after)},
            "models": {"before": dict(self.models_before), "after": dict(self.models_after)},
            "cost_usd": {"before": round(self.cost_before_usd, 6),
                         "after": round(self.cost_after_usd, 6),
                         "difference": round(self.cost_after_usd - self.cost_before_usd, 6)},
            "newly_rejected": {"count": sum(self.newly_rejected.values()),
                               "by_code": dict(self.newly_rejected),
                               "request_ids": self.newly_rejected_ids},
            "fail_closed": {"count": self.fail_closed, "request_ids": self.fail_closed_ids},
            "sensitive_candidates_changed": {"count": self.sensitive_changed,
                                             "requests": self.sensitive_changes},
            "unknown_callers": self.unknown_callers,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
        }


async def what_if(runtime: PolicyRuntime, records: Sequence[str],
                  principal_of: PrincipalLookup) -> WhatIfReport:
    """Replay stored records (JSON texts) through `runtime`'s engine.

    Parsing and replaying run on a worker thread, so serving goes on meanwhile; only the
    callers' rules are looked up here, once per distinct caller. Records whose decision inputs
    are identical are decided once and counted for each.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    # The replay makes millions of short-lived objects that reference counting frees; the
    # cyclic collector would rescan the whole heap (litellm's included) many times over for
    # nothing, which once tripled the time. It is back on when the replay ends.
    enabled = gc.isenabled()
    gc.disable()
    try:
        rows = await asyncio.to_thread(_parse, records)
        principals: dict[tuple[str | None, str | None], Principal | None] = {}
        for row in rows:
            if row.caller not in principals:
                principals[row.caller] = (await principal_of(*row.caller)
                                          if row.caller != (None, None) else None)
        report = await asyncio.to_thread(_replay, runtime, rows, principals)
    finally:
        if enabled:
            gc.enable()
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu_started
    return report


@dataclass(frozen=True, slots=True)
class _Row:
    """What the replay reads of one record: its decision inputs and what was decided then."""

    request_id: str
    caller: tuple[str | None, str | None]
    requested: str | None
    budget_used_share: float | None
    route: str
    door: str  # chat, or embeddings: decided among that kind's routes, as serving did
    classification: tuple[Any, ...]  # the summary's fields, hashable (see _classification)
    candidates: list[str]
    model: str | None
    cost_usd: float
    tokens_in: int
    tokens_out: int


def _decision_inputs(summary: dict[str, Any]) -> tuple[Any, ...]:
    """The classification's fields the engine decides by, hashable. Where in the body each
    finding was (`fields`) only explains a decision, so it is left out."""
    findings = summary.get("findings")
    capabilities = summary.get("capabilities")
    unscannable = summary.get("unscannable")
    return (
        summary["task"], float(summary["difficulty"]), summary["sensitivity"],
        tuple(sorted(findings.items())) if findings else (),
        tuple(sorted(capabilities)) if capabilities else (),
        int(summary.get("prompt_tokens") or 0),
        tuple(sorted(unscannable.items())) if unscannable else (),
    )


def _parse(records: Sequence[str]) -> list[_Row]:
    rows = []
    for text in records:
        rec = orjson.loads(text)
        summary = rec["classification"]
        rows.append(_Row(
            request_id=str(rec["request_id"]),
            caller=(rec.get("key_id"), rec.get("team")),
            requested=rec.get("requested_model"),
            budget_used_share=rec.get("budget_used_share"),
            route=rec["route"],
            door=rec.get("door") or "chat",
            classification=_decision_inputs(summary),
            candidates=list(rec.get("candidates") or []),
            model=rec.get("answered_by") or rec.get("chosen"),
            cost_usd=float(rec.get("cost_usd") or 0.0),
            tokens_in=int(rec.get("tokens_in") or 0),
            tokens_out=int(rec.get("tokens_out") or 0),
        ))
    return rows


def _replay(runtime: PolicyRuntime, rows: Sequence[_Row],
            principals: Mapping[tuple[str | None, str | None], Principal | None]
            ) -> WhatIfReport:
    report = WhatIfReport()
    policy = runtime.policy
    # One look at the live signals for the whole replay: the same state for every record,
    # and a dict lookup instead of a stats query per model and record.
    signals = SnapshotSignals(runtime.signals)
    engine = PolicyEngine(policy, signals, rng=random.Random(0),
                          scorers=runtime.engine.scorers)
    # A route that explores draws at random per request: its decisions are not reused.
    reuse = not any(route.explore_share for route in policy.routes)
    # Only what the report reads of a decision is kept: a whole Decision per distinct input
    # (its verdicts and numbers) would hold hundreds of megabytes over a large window.
    outcomes: dict[tuple[Any, ...], _Outcome] = {}
    contexts: dict[tuple[Any, ...], RequestContext] = {}
    for row in rows:
        principal = principals.get(row.caller)
        if principal is None and row.caller != (None, None):
            report.unknown_callers += 1
        requested = _requested(row, policy.models)
        pressure = _pressure(row.budget_used_share, principal)
        ctx_key = (requested, row.caller, pressure, row.door)
        key = (ctx_key, row.classification)
        outcome = outcomes.get(key) if reuse else None
        if outcome is None:
            ctx = contexts.get(ctx_key)
            if ctx is None:
                ctx = _context(requested, principal, row, pressure)
                if row.door == "embeddings":
                    ctx = replace(ctx, kind="embedding")
                contexts[ctx_key] = ctx
            outcome = _outcome(engine, _classification(row.classification), ctx)
            if reuse:
                outcomes[key] = outcome
        _count(report, row, outcome, signals.price)
    return report


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What the report reads of one decision."""

    route: str
    chosen: str | None
    attempts: tuple[str, ...]
    rejection: str | None  # its code
    fail_closed: bool


def _outcome(engine: PolicyEngine, classification: Classification, ctx: RequestContext
             ) -> _Outcome:
    try:
        decision = engine.decide(classification, ctx)
    except UnknownModel:
        # The candidate has no model or route of the name the caller asked for.
        return _Outcome("(none)", None, (), "model_not_found", False)
    return _Outcome(decision.route, decision.chosen, decision.attempts,
                    None if decision.rejection is None else decision.rejection.code,
                    decision.fail_closed)


def _requested(row: _Row, models: Mapping[str, Any]) -> str:
    """The model the caller asked for; records from before it was kept fall back to the
    model of a direct request, else "auto"."""
    if row.requested is not None:
        return row.requested
    model = row.route.removeprefix("direct:")  # the route a direct request is recorded under
    return model if model in models else "auto"


def _pressure(share: float | None, principal: Principal | None) -> str | None:
    """Budget pressure as serving would have set it: a budget at or above its soft limit."""
    if share is None:
        return None
    ratios = [limits.soft_limit_ratio for limits in (
        principal.key_limits, principal.team_limits) if limits is not None
    ] if principal is not None else []
    soft = min(ratios) if ratios else Limits().soft_limit_ratio
    return "a budget was above its soft limit" if share >= soft else None


class SnapshotSignals:
    """`RoutingSignals` read once per distinct question, then answered from memory (plain
    dicts: this runs a few times per record)."""

    def __init__(self, live: RoutingSignals) -> None:
        self._live = live
        self._quality: dict[tuple[Task, str], QualityView] = {}
        self._output: dict[tuple[Task, str], float] = {}
        self._latency: dict[tuple[Task, str, float], float] = {}
        self._unavailable: dict[str, str | None] = {}
        self._price: dict[str, ModelPrice] = {}
        self._load: dict[str, Mapping[str, float] | None] = {}
        self._saturation: dict[tuple[str, int], str | None] = {}

    def quality(self, task: Task, model: str) -> QualityView:
        key = (task, model)
        if key not in self._quality:
            self._quality[key] = self._live.quality(task, model)
        return self._quality[key]

    def expected_output_tokens(self, task: Task, model: str) -> float:
        key = (task, model)
        if key not in self._output:
            self._output[key] = self._live.expected_output_tokens(task, model)
        return self._output[key]

    def expected_latency_ms(self, task: Task, model: str, output_tokens: float) -> float:
        key = (task, model, output_tokens)
        if key not in self._latency:
            self._latency[key] = self._live.expected_latency_ms(task, model, output_tokens)
        return self._latency[key]

    def unavailable_reason(self, model: str) -> str | None:
        if model not in self._unavailable:
            self._unavailable[model] = self._live.unavailable_reason(model)
        return self._unavailable[model]

    def price(self, model: str) -> ModelPrice:
        if model not in self._price:
            self._price[model] = self._live.price(model)
        return self._price[model]

    def local_load(self, model: str) -> Mapping[str, float] | None:
        if model not in self._load:
            self._load[model] = self._live.local_load(model)
        return self._load[model]

    def saturation(self, model: str, spill: Spill) -> str | None:
        key = (model, id(spill))
        if key not in self._saturation:
            self._saturation[key] = self._live.saturation(model, spill)
        return self._saturation[key]


def _count(report: WhatIfReport, row: _Row, outcome: _Outcome,
           price: Callable[[str], ModelPrice]) -> None:
    report.requests += 1
    rid = row.request_id
    report.routes_before[row.route] += 1
    report.models_before[row.model or "(none)"] += 1
    report.cost_before_usd += row.cost_usd
    report.routes_after[outcome.route] += 1
    report.models_after[outcome.chosen or "(none)"] += 1
    if outcome.rejection is not None:
        if row.candidates:
            report.newly_rejected[outcome.rejection] += 1
            _keep(report.newly_rejected_ids, rid)
    elif outcome.chosen is not None:
        report.cost_after_usd += price(outcome.chosen).cost(row.tokens_in, row.tokens_out)
        if outcome.fail_closed:
            report.fail_closed += 1
            _keep(report.fail_closed_ids, rid)
    sensitivity = row.classification[2]
    if sensitivity != Sensitivity.NONE.value and list(outcome.attempts) != row.candidates:
        report.sensitive_changed += 1
        if len(report.sensitive_changes) < _SHOWN:
            report.sensitive_changes.append({
                "request_id": rid, "sensitivity": sensitivity,
                "before": row.candidates, "after": list(outcome.attempts)})


def _keep(ids: list[str], rid: str) -> None:
    if len(ids) < _SHOWN:
        ids.append(rid)


def _classification(key: tuple[Any, ...]) -> Classification:
    task, difficulty, sensitivity, findings, capabilities, prompt_tokens, unscannable = key
    return Classification(
        task=Task(task),
        difficulty=difficulty,
        sensitivity=Sensitivity(sensitivity),
        findings=dict(findings),
        capabilities=frozenset(Capability(c) for c in capabilities),
        prompt_tokens=prompt_tokens,
        unscannable=dict(unscannable),
    )


def _context(requested: str, principal: Principal | None, row: _Row, pressure: str | None
             ) -> RequestContext:
    key_id, team = row.caller
    return RequestContext(
        requested_model=requested,
        key_id=key_id,
        team=team,
        allowed_models=principal.allowed_models if principal else None,
        allowed_routes=principal.allowed_routes if principal else None,
        budget_pressure=pressure,
    )


def principal_lookup(access: AccessService) -> PrincipalLookup:
    """A caller's merged rules from the key cache serving reads (None: unknown key)."""

    async def lookup(key_id: str | None, team: str | None) -> Principal | None:
        if key_id is None:
            return None
        try:
            key = await access.admin.get_key(key_id)
            return principal_for(key, await access.admin.get_team(key.team))
        except JunctionError:
            return None

    return lookup
