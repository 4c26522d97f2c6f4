"""Finishing: the reply's headers, the error a refusal or failure becomes, Prometheus
metrics, the access log line and the records handed to the recorders."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.trace import Span

from router.errors import (
    InvalidRequest,
    JunctionError,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
)
from router.gateway import spans
from router.gateway.execute import AllAttemptsFailed, EgressRefused, Outcome, UpstreamRejected
from router.gateway.plan import PlannedRequest
from router.policy.decision import Decision
from router.policy.schema import Policy
from router.providers.base import Usage
from router.telemetry import Metrics

log = logging.getLogger("junction.access")
# A 503 means no permitted model can serve now (local model down or full, fail-closed); a
# breaker's cooldown or the probe's next look usually changes that within seconds.
RETRY_AFTER_S = "5"
# Attempt outcomes that never sent a byte upstream (as in `stats.records`).
_NOT_SENT = frozenset({"circuit_open", "refused_egress", "refused_residency"})


@dataclass(slots=True)
class Reply:
    """A response for the API layer: a whole body, or an async iterator of SSE bytes."""

    status: int
    headers: dict[str, str]
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


@dataclass(slots=True)
class Finished:
    """Everything known about a request once it is over; handed to the recorders."""

    request_id: str
    started: float  # unix time
    decision: Decision | None
    outcome: Outcome | None
    usage: Usage
    cost_usd: float
    status: int
    total_ms: float
    ttft_ms: float | None
    streamed: bool
    key_id: str | None = None
    team: str | None = None
    error: str | None = None
    requested_model: str | None = None
    budget_used_share: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    policy_version: int | None = None
    # Residency facts, read from the policy the request was served under.
    answered_local: bool | None = None
    sent_external: bool = False
    span: Span | None = None  # the request's span, ended by `Finisher.finish`


Recorder = Callable[[Finished], None]


def with_request_id(body: bytes, request_id: str) -> bytes | None:
    """An upstream's OpenAI-shaped error body with Junction's request id added; None when the
    body is not one (the caller then writes its own)."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(obj, dict) and isinstance(obj.get("error"), dict)):
        return None
    obj["error"]["request_id"] = request_id
    return orjson.dumps(obj)


class Finisher:
    """Turns a decided, executed (or refused) request into headers, errors, metrics, records."""

    def __init__(
        self,
        policy: Policy,
        metrics: Metrics,
        recorders: list[Recorder] | None = None,
        log_content: bool = False,
    ) -> None:
        self.policy = policy
        self.metrics = metrics
        self.recorders = recorders or []
        self.log_content = log_content
        # The stored version `policy` came from (set with it by `ChatService.use`).
        self.policy_version: int | None = None

    # -- before execution --------------------------------------------------------------------

    def refusal(self, req: PlannedRequest, decision: Decision) -> JunctionError | None:
        """The error for a decision that refuses the request, or None when it may go on."""
        rejection = decision.rejection
        if rejection is None:
            return None
        self.metrics.rejected.labels(rejection.code).inc()
        error: JunctionError
        if rejection.status == 403:
            error = PermissionDenied(rejection.message, param="model", code=rejection.code)
        elif rejection.status == 503:
            error = ServiceUnavailable(rejection.message, code=rejection.code)
        else:
            error = InvalidRequest(rejection.message, code=rejection.code)
        error.details = {"request_id": req.request_id, "route": decision.route,
                         "candidates": [v.to_dict() for v in decision.verdicts]}
        error.headers = {
            "x-junction-request-id": req.request_id,
            "x-request-id": req.request_id,
            "x-junction-route": decision.route,
            **({"retry-after": RETRY_AFTER_S} if rejection.status == 503 else {}),
        }
        log.info("request=%s route=%s refused code=%s", req.request_id, decision.route,
                 rejection.code)
        if self.recorders:
            # Refusals belong in the request log too (data protection counts them).
            total_ms = (time.perf_counter() - req.t0) * 1000.0
            done = self.finished(req, decision, None, Usage(), 0.0, rejection.status, total_ms,
                                 None, streamed=req.chat.stream, error=rejection.code)
            asyncio.get_running_loop().call_soon(self._record, done)
        return error

    # -- after execution ---------------------------------------------------------------------

    def headers(
        self, req: PlannedRequest, decision: Decision, outcome: Outcome, elapsed_ms: float
    ) -> dict[str, str]:
        overhead = max(0.0, elapsed_ms - outcome.upstream_ms)
        self.metrics.overhead.observe(overhead / 1000.0)
        return {
            "x-junction-request-id": req.request_id,
            "x-request-id": req.request_id,
            "x-junction-route": decision.route,
            # No model answered (a failure): no header, rather than an empty one.
            **({"x-junction-model": outcome.model} if outcome.model else {}),
            "x-junction-attempts": outcome.header(),
            "x-junction-overhead-ms": f"{overhead:.3f}",
            "x-junction-task": req.classification.task.value,
            "x-junction-sensitivity": req.classification.sensitivity.value,
            **({"x-junction-exploration": "true"} if decision.exploration else {}),
            **({"x-junction-spilled": spill_header(decision)} if decision.spilled else {}),
        }

    async def failed(
        self, req: PlannedRequest, decision: Decision, exc: AllAttemptsFailed | UpstreamRejected
    ) -> Reply:
        """The reply when no attempt produced an answer, recorded like any other."""
        outcome = exc.outcome
        total_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self.headers(req, decision, outcome, total_ms)
        if isinstance(exc, UpstreamRejected):
            status = exc.failure.status or 502
            body = with_request_id(exc.failure.body or b"", req.request_id)
            if body is None:
                body = orjson.dumps(UpstreamError(
                    f"{outcome.attempts[-1].model} rejected the request: {exc.failure.message}",
                    code="upstream_rejected",
                ).body(req.request_id))
            await self.finish(self.failure_record(req, decision, outcome, status, total_ms,
                                                  exc.failure.message))
            return Reply(status, headers, body=body)
        error = _attempts_error(req, decision, exc)
        await self.finish(self.failure_record(req, decision, outcome, error.status_code,
                                              total_ms, error.message))
        if error.status_code == 503:
            headers["retry-after"] = RETRY_AFTER_S
        return Reply(error.status_code, headers, body=orjson.dumps(error.body(req.request_id)))

    def failure_record(
        self, req: PlannedRequest, decision: Decision, outcome: Outcome, status: int,
        total_ms: float, error: str,
    ) -> Finished:
        return self.finished(req, decision, outcome, Usage(), 0.0, status, total_ms, None,
                             streamed=req.chat.stream, error=error)

    def finished(
        self, req: PlannedRequest, decision: Decision, outcome: Outcome | None, usage: Usage,
        cost: float, status: int, total_ms: float, ttft_ms: float | None, *, streamed: bool,
        error: str | None = None,
    ) -> Finished:
        principal = req.principal
        done = Finished(
            request_id=req.request_id, started=req.started, decision=decision, outcome=outcome,
            usage=usage, cost_usd=cost, status=status, total_ms=total_ms, ttft_ms=ttft_ms,
            streamed=streamed, error=error,
            key_id=principal.key_id if principal else None,
            team=principal.team if principal else None,
            policy_version=self.policy_version,
            requested_model=req.chat.model, budget_used_share=req.budget_used_share,
        )
        if outcome is not None:
            done.answered_local = (None if not outcome.model
                                   else self._residency(outcome.model) == "local")
            done.sent_external = any(
                a.outcome not in _NOT_SENT and self._residency(a.model) != "local"
                for a in outcome.attempts)
        # The span goes with the record: finishing ends it, and nothing else may.
        done.span, req.span = req.span, None
        if req.door != "chat":
            done.extra["door"] = req.door
        if self.log_content:
            # Operator opt-in (JUNCTION_LOG_CONTENT): the messages (embeddings: the inputs) as
            # sent, into the record.
            sent = req.data.get("messages") if req.door == "chat" else req.data.get("input")
            done.extra["prompt"] = orjson.dumps(sent).decode()
        return done

    def _residency(self, model: str) -> str:
        spec = self.policy.models.get(model)
        # A model the policy no longer names is counted as external: the safe reading.
        return spec.effective_residency if spec is not None else "external"

    async def finish(self, done: Finished) -> None:
        """Metrics, the span and the access log now; the recorders once the response is on
        its way."""
        self._count(done)
        if done.span is not None:
            self._end_span(done.span, done)
            done.span = None
        if log.isEnabledFor(logging.INFO):
            route = done.decision.route if done.decision else "none"
            model = (done.outcome.model if done.outcome else None) or "none"
            log.info(
                "request=%s route=%s model=%s status=%d attempts=%s total_ms=%.1f cost=%.6f",
                done.request_id, route, model, done.status,
                done.outcome.header() if done.outcome else "", done.total_ms, done.cost_usd,
            )
        if self.recorders:
            # After the response is on its way: recording is bookkeeping, not the caller's wait.
            asyncio.get_running_loop().call_soon(self._record, done)

    def _count(self, done: Finished) -> None:
        m = self.metrics
        route = done.decision.route if done.decision else "none"
        model = (done.outcome.model if done.outcome else None) or "none"
        m.requests.labels(route, model, str(done.status)).inc()
        if done.outcome is not None:
            refusal = done.outcome.egress_refusal
            for attempt in done.outcome.attempts:
                m.attempts.labels(attempt.model, attempt.outcome).inc()
                if attempt.outcome == "refused_egress" and refusal is not None:
                    for kind in refusal.kinds:
                        m.egress_refused.labels(attempt.model, kind).inc()
            if len(done.outcome.attempts) > 1 and done.outcome.model:
                m.spillover.labels(route, done.outcome.attempts[0].outcome).inc()
        if done.outcome is not None and done.outcome.model:
            m.latency.labels(route, model).observe(done.total_ms / 1000.0)
            if done.streamed and done.ttft_ms is not None:
                m.ttft.labels(route, model).observe(done.ttft_ms / 1000.0)
            m.tokens.labels(model, "prompt").inc(done.usage.prompt_tokens)
            m.tokens.labels(model, "completion").inc(done.usage.completion_tokens)
            if done.usage.reasoning_tokens:
                m.tokens.labels(model, "reasoning").inc(done.usage.reasoning_tokens)
            m.cost.labels(route, model).inc(done.cost_usd)
            # The policy may have changed since this request started: no spec, no residency.
            spec = self.policy.models.get(done.outcome.model)
            sensitivity = done.decision.classification.sensitivity.value if done.decision else ""
            if spec is not None:
                m.residency.labels(spec.effective_residency, sensitivity).inc()

    # -- tracing -----------------------------------------------------------------------------

    def trace_decision(self, span: Span, req: PlannedRequest, decision: Decision,
                       policy_version: int | None) -> None:
        """The request span's name and Junction's decision attributes.

        Kept to what a reader filters on: each attribute costs the exporter a few microseconds
        per request, and the request parameters are on the attempt spans already.
        """
        if not span.is_recording():
            return
        span.update_name(f"{spans.OPERATION} {req.chat.model}")
        classification = req.classification
        attributes: dict[str, Any] = {
            spans.OPERATION_NAME: spans.OPERATION,
            spans.REQUEST_MODEL: req.chat.model,
            "junction.request_id": req.request_id,
            "junction.route": decision.route,
            "junction.task": classification.task.value,
            "junction.sensitivity": classification.sensitivity.value,
        }
        if decision.spilled:  # present only when true, like the response headers
            attributes["junction.spilled"] = True
            attributes["junction.spill_reason"] = spill_header(decision)
        if decision.exploration:
            attributes["junction.exploration"] = True
        if decision.prompt_score is not None:
            attributes["junction.prompt_score"] = decision.prompt_score
        if policy_version is not None:
            attributes["junction.policy_version"] = policy_version
        span.set_attributes(attributes)

    def _end_span(self, span: Span, done: Finished) -> None:
        """The answer's attributes (model, provider, usage, cost) or `error.type`."""
        if span.is_recording():
            attributes: dict[str, Any] = {}
            outcome = done.outcome
            if outcome is not None and outcome.model:
                attributes["junction.model"] = outcome.model
                spec = self.policy.models.get(outcome.model)
                if spec is not None:
                    attributes[spans.PROVIDER_NAME] = spans.provider_name(spec)
                    attributes[spans.RESPONSE_MODEL] = spans.upstream_model(spec)
                    attributes["junction.residency"] = spec.effective_residency
                model = outcome.response.get(spans.RESPONSE_MODEL)
                if model is not None:  # the upstream's own name for it wins
                    attributes[spans.RESPONSE_MODEL] = model
                attributes.update(spans.usage_attributes(
                    done.usage.prompt_tokens, done.usage.completion_tokens,
                    done.usage.reasoning_tokens))
                attributes["junction.cost_usd"] = done.cost_usd
                if done.streamed and done.ttft_ms is not None:
                    attributes[spans.RESPONSE_TIME_TO_FIRST_CHUNK] = done.ttft_ms / 1000.0
            if outcome is not None and len(outcome.attempts) > 1:
                attributes["junction.attempts"] = outcome.header()
                if outcome.model:
                    attributes["junction.fallback_reason"] = outcome.attempts[0].outcome
            span.set_attributes(attributes)
            if done.status >= 400:
                spans.fail(span, str(done.status))
                return
        span.end()

    def _record(self, done: Finished) -> None:
        for recorder in self.recorders:
            try:
                recorder(done)
            except Exception:  # a broken recorder must never fail requests
                log.exception("recorder failed for request %s", done.request_id)


def _attempts_error(
    req: PlannedRequest, decision: Decision, exc: AllAttemptsFailed
) -> JunctionError:
    """Every attempt failed or was refused: 403 (egress guard), 503 (fail-closed) or 502."""
    outcome = exc.outcome
    tried = "; ".join(f"{a.model}: {a.outcome}" + (f" ({a.detail})" if a.detail else "")
                      for a in outcome.attempts)
    error: JunctionError
    if isinstance(exc, EgressRefused):
        error = PermissionDenied(
            f"route {decision.route!r}: this request holds {exc.refusal.describe()}, so it "
            "may not be sent to an external model, and no local model could serve it; "
            f"nothing was sent to any external model. Tried: {tried}",
            code="sensitive_data_blocked",
        )
    elif decision.fail_closed:
        error = ServiceUnavailable(
            f"route {decision.route!r}: no permitted model could serve this request "
            f"(fail-closed: nothing was sent to any other model). Tried: {tried}",
            code="no_local_model_available" if decision.classification.is_sensitive
            else "no_model_available",
        )
    else:
        error = UpstreamError(
            f"route {decision.route!r}: every candidate failed. Tried: {tried}"
        )
    error.details = {"request_id": req.request_id, "attempts": [
        {"model": a.model, "outcome": a.outcome} for a in outcome.attempts]}
    if isinstance(exc, EgressRefused):
        error.details["findings"] = dict(exc.refusal.findings)
        error.details["fields"] = {k: list(v) for k, v in exc.refusal.fields.items()}
        error.details["unscannable"] = dict(exc.refusal.unscannable)
    return error


def spill_header(decision: Decision) -> str:
    """Which local model was passed over and the load that caused it, for the header."""
    return "; ".join(f"{v.model}: local saturated ({v.saturation})"
                     for v in decision.verdicts if v.spilled)
