"""What-if: the recorded requests of a window replayed through a candidate policy's decision.

No model is called and no prompt text is read: each record's classification and caller (its
key's and team's allow-lists, read from the same cache serving reads) go to the candidate's
engine, which sees today's live signals. The answer sets it against what was decided then.
"""

from __future__ import annotations

import gc
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import orjson

from router.accounts.models import Principal
from router.accounts.principals import principal_for
from router.accounts.service import AccessService
from router.classify.types import Capability, Classification, Sensitivity, Task
from router.errors import JunctionError
from router.policy.decision import Decision, QualityView, RequestContext, RoutingSignals
from router.policy.engine import PolicyEngine
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
    """Replay stored records (JSON texts) through `runtime`'s engine."""
    # The replay makes millions of short-lived objects that reference counting frees; the
    # cyclic collector would rescan the whole heap (litellm's included) many times over for
    # nothing, which once tripled the time. It is back on when the replay ends.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return await _replay(runtime, records, principal_of)
    finally:
        if enabled:
            gc.enable()


async def _replay(runtime: PolicyRuntime, records: Sequence[str],
                  principal_of: PrincipalLookup) -> WhatIfReport:
    started, cpu_started = time.perf_counter(), time.process_time()
    report = WhatIfReport()
    principals: dict[tuple[str | None, str | None], Principal | None] = {}
    contexts: dict[tuple[str, tuple[str | None, str | None], str], RequestContext] = {}
    # One look at the live signals for the whole replay: the same state for every record,
    # and a dict lookup instead of a stats query per model and record.
    signals = SnapshotSignals(runtime.signals)
    engine = PolicyEngine(runtime.policy, signals, rng=random.Random(0),
                          scorers=runtime.engine.scorers)
    for text in records:
        rec = orjson.loads(text)
        caller = (rec.get("key_id"), rec.get("team"))
        if caller not in principals:
            principals[caller] = (await principal_of(*caller)
                                  if caller != (None, None) else None)
        principal = principals[caller]
        if principal is None and caller != (None, None):
            report.unknown_callers += 1
        summary = rec["classification"]
        requested = rec["route"] if rec["route"] in runtime.policy.models else "auto"
        # An embeddings request is decided among embedding routes, as serving decided it.
        door = rec.get("door") or "chat"
        ctx_key = (requested, caller, door)
        ctx = contexts.get(ctx_key)
        if ctx is None:
            ctx = contexts[ctx_key] = _context(requested, principal, rec)
            if door == "embeddings":
                ctx = contexts[ctx_key] = replace(ctx, kind="embedding")
        decision = engine.decide(_classification(summary), ctx)
        _count(report, rec, decision, signals.price if decision.chosen else None)
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() - cpu_started
    return report


class SnapshotSignals:
    """`RoutingSignals` read once per distinct question, then answered from memory."""

    def __init__(self, live: RoutingSignals) -> None:
        self._live = live
        self._cache: dict[tuple[Any, ...], Any] = {}

    def _once(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = read()
            return value

    def quality(self, task: Task, model: str) -> QualityView:
        return cast(QualityView, self._once(("q", task, model),
                                            lambda: self._live.quality(task, model)))

    def expected_output_tokens(self, task: Task, model: str) -> float:
        return cast(float, self._once(("o", task, model),
                                      lambda: self._live.expected_output_tokens(task, model)))

    def expected_latency_ms(self, task: Task, model: str, output_tokens: float) -> float:
        return cast(float, self._once(
            ("l", task, model, output_tokens),
            lambda: self._live.expected_latency_ms(task, model, output_tokens)))

    def unavailable_reason(self, model: str) -> str | None:
        return cast(str | None, self._once(("u", model),
                                           lambda: self._live.unavailable_reason(model)))

    def price(self, model: str) -> ModelPrice:
        return cast(ModelPrice, self._once(("p", model), lambda: self._live.price(model)))

    def local_load(self, model: str) -> Mapping[str, float] | None:
        return cast(Mapping[str, float] | None,
                    self._once(("ll", model), lambda: self._live.local_load(model)))

    def saturation(self, model: str, spill: Spill) -> str | None:
        return cast(str | None, self._once(("s", model, id(spill)),
                                           lambda: self._live.saturation(model, spill)))


def _count(report: WhatIfReport, rec: dict[str, Any], decision: Decision,
           price: Callable[[str], Any] | None) -> None:
    report.requests += 1
    rid = str(rec["request_id"])
    before_candidates = list(rec.get("candidates") or [])
    before_model = rec.get("answered_by") or rec.get("chosen")
    report.routes_before[rec["route"]] += 1
    report.models_before[before_model or "(none)"] += 1
    report.cost_before_usd += float(rec.get("cost_usd") or 0.0)
    report.routes_after[decision.route] += 1
    report.models_after[decision.chosen or "(none)"] += 1
    if decision.rejection is not None:
        if before_candidates:
            report.newly_rejected[decision.rejection.code] += 1
            _keep(report.newly_rejected_ids, rid)
    else:
        assert price is not None and decision.chosen is not None
        report.cost_after_usd += price(decision.chosen).cost(
            int(rec.get("tokens_in") or 0), int(rec.get("tokens_out") or 0))
        if decision.fail_closed:
            report.fail_closed += 1
            _keep(report.fail_closed_ids, rid)
    sensitivity = rec["classification"].get("sensitivity", "none")
    if sensitivity != Sensitivity.NONE.value and list(decision.attempts) != before_candidates:
        report.sensitive_changed += 1
        if len(report.sensitive_changes) < _SHOWN:
            report.sensitive_changes.append({
                "request_id": rid, "sensitivity": sensitivity,
                "before": before_candidates, "after": list(decision.attempts)})


def _keep(ids: list[str], rid: str) -> None:
    if len(ids) < _SHOWN:
        ids.append(rid)


def _classification(summary: dict[str, Any]) -> Classification:
    return Classification(
        task=Task(summary["task"]),
        difficulty=float(summary["difficulty"]),
        sensitivity=Sensitivity(summary["sensitivity"]),
        findings=dict(summary.get("findings") or {}),
        capabilities=frozenset(Capability(c) for c in summary.get("capabilities") or ()),
        prompt_tokens=int(summary.get("prompt_tokens") or 0),
        fields={k: tuple(v) for k, v in (summary.get("fields") or {}).items()},
        unscannable=dict(summary.get("unscannable") or {}),
    )


def _context(requested: str, principal: Principal | None, rec: dict[str, Any]
             ) -> RequestContext:
    return RequestContext(
        requested_model=requested,
        key_id=rec.get("key_id"),
        team=rec.get("team"),
        allowed_models=principal.allowed_models if principal else None,
        allowed_routes=principal.allowed_routes if principal else None,
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
