"""Turn a finished request into a `RequestRecord` (for the stats store and the database's
write queue: `store.state.DurableState.recorder`), after the response."""

from __future__ import annotations

from typing import Any

from router.gateway.finish import Finished
from router.stats.records import Attempt, ClassificationSummary, RequestRecord


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
        prompt_score=decision.prompt_score,
        prompt=_text(done.extra.get("prompt")),
        completion=_text(done.extra.get("completion")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None

