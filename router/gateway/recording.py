"""Turn a finished request into a `RequestRecord` (for the stats store and the database's
write queue: `store.state.DurableState.recorder`), after the response."""

from __future__ import annotations

from typing import Any

from router.gateway.finish import Finished
from router.policy.decision import Decision
from router.stats.records import (
    Attempt,
    CandidateSummary,
    ClassificationSummary,
    DecisionSummary,
    RequestRecord,
)

# The measure named first in a saturation reading ("waiting 5 > 4") -> the spill kind.
_SATURATION_KINDS = (("waiting", "local_queue"), ("KV cache", "local_kv_cache"),
                     ("predicted TTFT", "local_ttft"))


def to_record(done: Finished) -> RequestRecord | None:
    decision = done.decision
    if decision is None:
        return None
    outcome = done.outcome
    attempts = [] if outcome is None else [
        Attempt(model=a.model, endpoint=a.endpoint or "", outcome=a.outcome,
                duration_ms=max(a.duration_ms, 0.0))
        for a in outcome.attempts
    ]
    usage = done.usage
    return RequestRecord(
        request_id=done.request_id,
        time=done.started,
        key_id=done.key_id,
        team=done.team,
        route=decision.route,
        classification=ClassificationSummary.of(decision.classification),
        candidates=list(decision.attempts),
        chosen=decision.chosen,
        attempts=attempts,
        answered_by=outcome.model if outcome is not None else None,
        tokens_in=usage.prompt_tokens,
        tokens_out=usage.completion_tokens,
        tokens_reasoning=usage.reasoning_tokens,
        cost_usd=max(done.cost_usd, 0.0),
        ttft_ms=done.ttft_ms if done.streamed else None,
        total_ms=max(done.total_ms, 0.0),
        status=min(max(done.status, 100), 599),
        streamed=done.streamed,
        exploration=decision.exploration,
        door=_text(done.extra.get("door")) or "chat",
        prompt_score=decision.prompt_score,
        requested_model=done.requested_model,
        budget_used_share=done.budget_used_share,
        prompt=_text(done.extra.get("prompt")),
        completion=_text(done.extra.get("completion")),
        spill_reason=spill_reason(decision, attempts, outcome.model if outcome else None),
        policy_version=done.policy_version,
        decision=decision_summary(decision),
        answered_local=done.answered_local,
        sent_external=done.sent_external,
    )


def spill_reason(decision: Decision, attempts: list[Attempt], answered_by: str | None
                 ) -> str | None:
    """Why the policy's first choice did not answer, as a kind; None when it did."""
    if decision.spilled:
        for verdict in decision.verdicts:
            if verdict.spilled:
                reading = verdict.saturation or ""
                for measure, kind in _SATURATION_KINDS:
                    if reading.startswith(measure):
                        return kind
                return "local_saturated"
    if answered_by is not None and attempts and attempts[0].model != answered_by:
        return f"failover_{attempts[0].outcome}"
    return None


def decision_summary(decision: Decision) -> DecisionSummary:
    return DecisionSummary(
        objective=str(decision.objective),
        fail_closed=decision.fail_closed,
        candidates=[CandidateSummary(
            model=v.model, role=v.role, kept=v.kept, kind=v.kind.value, reason=v.reason,
            residency=v.residency,
            quality=None if v.quality is None else round(v.quality, 4),
            expected_cost_usd=v.expected_cost_usd,
            expected_latency_ms=(None if v.expected_latency_ms is None
                                 else round(v.expected_latency_ms, 1)),
            spilled=v.spilled, saturation=v.saturation,
        ) for v in decision.verdicts],
        prompt_score_threshold=decision.prompt_score_threshold,
        rejection=decision.rejection.code if decision.rejection else None,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

