"""Chat completions end to end: parse -> classify -> decide -> execute -> record.

No HTTP framework here: the API layer hands in bytes and headers and gets back a `Reply`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import trace

from router.accounts import AccessService, Principal, Reservation
from router.accounts.estimate import token_bound
from router.classify.types import Classification, Classifier
from router.errors import (
    InvalidRequest,
    JunctionError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
)
from router.exchange import (
    Finished,
    PriceSource,
    Recorder,
    Reply,
    header_sensitivity,
    is_openai_error,
    parse_json,
)
from router.execute import (
    AllAttemptsFailed,
    EgressRefused,
    Executor,
    Outcome,
    UpstreamRejected,
)
from router.judging import SampledJudge, answer_text
from router.policy.engine import Decision, PolicyEngine, RequestContext, UnknownModel
from router.protocol import ChatCompletionRequest, parse_chat_request
from router.providers.base import OpenStream, Usage
from router.telemetry import Metrics

log = logging.getLogger("junction.access")
# A 503 means no permitted model can serve now (local model down or full, fail-closed); a
# breaker's cooldown or the probe's next look usually changes that within seconds.
RETRY_AFTER_S = "5"
tracer = trace.get_tracer(__name__)

@dataclass(slots=True)
class _Request:
    request_id: str
    t0: float
    started: float
    data: dict[str, Any]
    chat: ChatCompletionRequest
    classification: Classification
    ctx: RequestContext
    parts: PolicyParts | None = None
    principal: Principal | None = None
    reservation: Reservation | None = None

    @property
    def pinned(self) -> PolicyParts:
        assert self.parts is not None
        return self.parts


@dataclass(frozen=True, slots=True)
class PolicyParts:
    """What the request path uses that is built from the policy; a request keeps the parts
    it started with, so a policy activated meanwhile never mixes into it."""

    classifier: Classifier
    engine: PolicyEngine
    executor: Executor
    prices: PriceSource
    judge: SampledJudge | None


class ChatService:
    """Owns the request path; built once in `create_app` with everything it needs."""

    def __init__(
        self,
        *,
        classifier: Classifier,
        engine: PolicyEngine,
        executor: Executor,
        prices: PriceSource,
        metrics: Metrics,
        access: AccessService | None = None,
        recorders: list[Recorder] | None = None,
        reserve_output_tokens: int = 4096,
        judge: SampledJudge | None = None,
        log_content: bool = False,
    ) -> None:
        self.parts = PolicyParts(classifier, engine, executor, prices, judge)
        self.metrics = metrics
        self.access = access
        self.recorders = recorders or []
        self.reserve_output_tokens = reserve_output_tokens
        self.log_content = log_content
        self._background: set[asyncio.Task[None]] = set()
        if access is not None:
            access.on_dropped_settlement(
                lambda reason: metrics.settlements_dropped.labels(reason).inc()
            )

    def use(self, parts: PolicyParts) -> None:
        """Serve new requests with `parts` (a policy activation); requests in flight keep
        theirs. One assignment, so no request sees half of a change."""
        self.parts = parts

    @property
    def classifier(self) -> Classifier:
        return self.parts.classifier

    @property
    def engine(self) -> PolicyEngine:
        return self.parts.engine

    @property
    def executor(self) -> Executor:
        return self.parts.executor

    @property
    def prices(self) -> PriceSource:
        return self.parts.prices

    @property
    def judge(self) -> SampledJudge | None:
        return self.parts.judge

    # -- entry points ----------------------------------------------------------------------

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        if self.access is None:
            return None
        return await self.access.authenticate(headers.get("authorization"))

    def prepare(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        principal: Principal | None = None,
        budget_pressure: str | None = None,
        t0: float | None = None,
    ) -> _Request:
        t0 = time.perf_counter() if t0 is None else t0
        data = parse_json(raw)
        chat = parse_chat_request(data)
        floor = header_sensitivity(headers)
        if principal is not None:
            floor = floor.at_least(principal.default_sensitivity)
        parts = self.parts
        classification = parts.classifier.classify(data, min_sensitivity=floor)
        ctx = RequestContext(
            requested_model=chat.model,
            headers=headers,
            max_output_tokens=chat.output_limit,
            key_id=principal.key_id if principal else None,
            team=principal.team if principal else None,
            allowed_models=principal.allowed_models if principal else None,
            allowed_routes=principal.allowed_routes if principal else None,
            budget_pressure=budget_pressure,
            messages=data.get("messages") or (),
        )
        return _Request(
            request_id="jr-" + uuid.uuid4().hex,
            t0=t0,
            started=time.time(),
            data=data,
            chat=chat,
            classification=classification,
            ctx=ctx,
            parts=parts,
            principal=principal,
        )

    def decide(self, req: _Request) -> Decision:
        try:
            return req.pinned.engine.decide(req.classification, req.ctx)
        except UnknownModel:
            policy = req.pinned.engine.policy
            names = sorted(["auto", *policy.models, *(r.name for r in policy.routes)])
            raise NotFound(
                f"model {req.chat.model!r} is not 'auto', a route or a model of this gateway's "
                f"policy; choose one of: {', '.join(names)}",
                param="model",
                code="model_not_found",
            ) from None

    def explain(
        self, raw: bytes, headers: Mapping[str, str], principal: Principal | None = None
    ) -> dict[str, Any]:
        req = self.prepare(raw, headers, principal)
        decision = self.decide(req)
        out = decision.to_dict()
        out["requested_model"] = req.chat.model
        return out

    async def caller(self, headers: Mapping[str, str]) -> tuple[Principal | None, str | None]:
        """Who is calling, and whether one of their budgets is above its soft limit."""
        principal = await self.authenticate(headers)
        pressure = None
        if principal is not None and principal.metered and self.access is not None:
            status = await self.access.budget_status(principal)
            if status.soft_exceeded:
                pressure = f"budget {status.which or ''} is above its soft limit".replace("  ", " ")
        return principal, pressure

    async def explain_request(self, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        principal, pressure = await self.caller(headers)
        req = self.prepare(raw, headers, principal, pressure)
        out = self.decide(req).to_dict()
        out["requested_model"] = req.chat.model
        return out

    async def complete(self, raw: bytes, headers: Mapping[str, str]) -> Reply:
        t0 = time.perf_counter()
        principal, pressure = await self.caller(headers)
        req = self.prepare(raw, headers, principal, pressure, t0)
        with tracer.start_as_current_span("junction.chat") as span:
            span.set_attribute("junction.request_id", req.request_id)
            decision = self.decide(req)
            span.set_attribute("junction.route", decision.route)
            span.set_attribute("junction.task", req.classification.task.value)
            span.set_attribute("junction.sensitivity", req.classification.sensitivity.value)
            self._refuse_if_rejected(req, decision)
            await self._admit(req, decision)
            try:
                if req.chat.stream:
                    reply = await self._stream(req, decision)
                else:
                    reply = await self._complete(req, decision)
            finally:
                # Whatever did not settle (failure, disconnect, cancellation) is released.
                if req.reservation is not None:
                    self._spawn(self._release(req.reservation))
            span.set_attribute("junction.model", reply.headers.get("x-junction-model", ""))
            return reply

    async def _admit(self, req: _Request, decision: Decision) -> None:
        """Rate limits and the budget reservation, for callers that are metered."""
        principal = req.principal
        if principal is None or not principal.metered or self.access is None:
            return
        output = req.chat.output_limit or self.reserve_output_tokens
        # The reservation must never be below what settles, so it prices an upper bound on
        # the tokens billed, not the classifier's estimate.
        bound = token_bound(req.data, default_output_tokens=self.reserve_output_tokens,
                            image_tokens=self.access.accounts.reserve_image_tokens)
        worst = max(
            (req.pinned.prices.price(m).cost(bound.prompt_tokens, bound.output_tokens)
             for m in decision.attempts),
            default=0.0,
        )
        # Rate limits and the reservation in one round trip to Redis.
        req.reservation = await self.access.admit(
            principal, req.classification.prompt_tokens + output, req.request_id, worst
        )

    def _settle(self, req: _Request, cost: float) -> None:
        reservation, req.reservation = req.reservation, None
        if reservation is not None and self.access is not None:
            self._spawn(self.access.settle(reservation, cost))

    async def _release(self, reservation: Reservation) -> None:
        if self.access is not None:
            await self.access.release(reservation)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for settlements still in flight (at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- non-streaming ---------------------------------------------------------------------

    async def _complete(self, req: _Request, decision: Decision) -> Reply:
        try:
            completion, outcome = await req.pinned.executor.complete(req.data, decision)
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self._failed(req, decision, exc)
        model = outcome.model or ""
        usage = completion.usage
        if not usage.reported:
            usage.prompt_tokens = req.classification.prompt_tokens
        cost = req.pinned.prices.price(model).cost(usage.prompt_tokens, usage.completion_tokens)
        self._settle(req, cost)
        total_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self._headers(req, decision, outcome, total_ms)
        done = self._finished(
            req, decision, outcome, usage, cost, 200, total_ms, total_ms, streamed=False,
        )
        if self.log_content:
            done.extra["completion"] = answer_text(completion.body)
        await self._finish(done)
        judge = req.pinned.judge
        if judge is not None and judge.wants(decision, req.request_id):
            self._spawn(self._judge(req, decision, completion.body))
        return Reply(200, headers, body=completion.body)

    async def _judge(self, req: _Request, decision: Decision, answer: bytes) -> None:
        judge = req.pinned.judge
        assert judge is not None
        await asyncio.sleep(0)  # after the response and its record
        try:
            await judge.judge(req.request_id, decision, req.data, answer)
        except JunctionError as exc:
            log.warning("judging %s failed: %s", req.request_id, exc.message)

    # -- streaming -------------------------------------------------------------------------

    async def _stream(self, req: _Request, decision: Decision) -> Reply:
        try:
            stream, outcome = await req.pinned.executor.open_stream(
                req.data, decision, req.chat.wants_usage
            )
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self._failed(req, decision, exc)
        ttft_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self._headers(req, decision, outcome, ttft_ms)
        headers["cache-control"] = "no-cache"
        # The stream owns the reservation from here: it settles when the stream ends.
        reservation, req.reservation = req.reservation, None
        return Reply(200, headers, stream=self._forward(
            req, decision, stream, outcome, ttft_ms, reservation))

    async def _forward(
        self,
        req: _Request,
        decision: Decision,
        stream: OpenStream,
        outcome: Outcome,
        ttft_ms: float,
        reservation: Reservation | None,
    ) -> AsyncIterator[bytes]:
        status = 200
        try:
            async for chunk in stream.events():
                yield chunk
        except BaseException:
            status = 499  # the client went away; closing the stream cancels the upstream call
            raise
        finally:
            await stream.aclose()
            usage = stream.end.usage
            if not usage.reported:
                usage.prompt_tokens = req.classification.prompt_tokens
                usage.completion_tokens = stream.end.chunks
            model = outcome.model or ""
            if stream.end.error and status == 200:
                status = 502
            cost = req.pinned.prices.price(model).cost(usage.prompt_tokens,
                                                       usage.completion_tokens)
            req.reservation = reservation
            self._settle(req, cost)
            await self._finish(self._finished(
                req, decision, outcome, usage, cost, status,
                (time.perf_counter() - req.t0) * 1000.0, ttft_ms, streamed=True,
                error=stream.end.error,
            ))

    # -- failures --------------------------------------------------------------------------

    def _refuse_if_rejected(self, req: _Request, decision: Decision) -> None:
        rejection = decision.rejection
        if rejection is None:
            return
        self.metrics.rejected.labels(rejection.code).inc()
        details = {"request_id": req.request_id, "route": decision.route,
                   "candidates": [v.to_dict() for v in decision.verdicts]}
        error: JunctionError
        if rejection.status == 403:
            error = PermissionDenied(rejection.message, param="model", code=rejection.code)
        elif rejection.status == 503:
            error = ServiceUnavailable(rejection.message, code=rejection.code)
        else:
            error = InvalidRequest(rejection.message, code=rejection.code)
        error.details = details
        error.headers = {
            "x-junction-request-id": req.request_id,
            "x-request-id": req.request_id,
            "x-junction-route": decision.route,
            **({"retry-after": RETRY_AFTER_S} if rejection.status == 503 else {}),
        }
        log.info("request=%s route=%s refused code=%s", req.request_id, decision.route,
                 rejection.code)
        raise error

    async def _failed(
        self, req: _Request, decision: Decision, exc: AllAttemptsFailed | UpstreamRejected
    ) -> Reply:
        outcome = exc.outcome
        total_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self._headers(req, decision, outcome, total_ms)
        if isinstance(exc, UpstreamRejected):
            status = exc.failure.status or 502
            body = exc.failure.body or b""
            if not is_openai_error(body):
                body = orjson.dumps(UpstreamError(
                    f"{outcome.attempts[-1].model} rejected the request: {exc.failure.message}",
                    code="upstream_rejected",
                ).body())
            await self._finish(self._failure_record(req, decision, outcome, status, total_ms,
                                                    exc.failure.message))
            return Reply(status, headers, body=body)
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
        await self._finish(self._failure_record(req, decision, outcome, error.status_code,
                                                total_ms, error.message))
        if error.status_code == 503:
            headers["retry-after"] = RETRY_AFTER_S
        return Reply(error.status_code, headers, body=orjson.dumps(error.body()))

    def _failure_record(
        self, req: _Request, decision: Decision, outcome: Outcome, status: int, total_ms: float,
        error: str,
    ) -> Finished:
        return self._finished(req, decision, outcome, Usage(), 0.0, status, total_ms, None,
                              streamed=req.chat.stream, error=error)

    def _finished(
        self, req: _Request, decision: Decision, outcome: Outcome, usage: Usage, cost: float,
        status: int, total_ms: float, ttft_ms: float | None, *, streamed: bool,
        error: str | None = None,
    ) -> Finished:
        principal = req.principal
        done = Finished(
            request_id=req.request_id, started=req.started, decision=decision, outcome=outcome,
            usage=usage, cost_usd=cost, status=status, total_ms=total_ms, ttft_ms=ttft_ms,
            streamed=streamed, error=error,
            key_id=principal.key_id if principal else None,
            team=principal.team if principal else None,
        )
        if self.log_content:
            # Operator opt-in (JUNCTION_LOG_CONTENT): the messages as sent, into the record.
            done.extra["prompt"] = orjson.dumps(req.data.get("messages")).decode()
        return done

    # -- bookkeeping -----------------------------------------------------------------------

    def _headers(
        self, req: _Request, decision: Decision, outcome: Outcome, elapsed_ms: float
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
            **({"x-junction-spilled": _spill_reason(decision)} if decision.spilled else {}),
        }

    async def _finish(self, done: Finished) -> None:
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
            spec = self.engine.policy.models.get(done.outcome.model)
            sensitivity = done.decision.classification.sensitivity.value if done.decision else ""
            if spec is not None:
                m.residency.labels(spec.effective_residency, sensitivity).inc()
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request=%s route=%s model=%s status=%d attempts=%s total_ms=%.1f cost=%.6f",
                done.request_id, route, model, done.status,
                done.outcome.header() if done.outcome else "", done.total_ms, done.cost_usd,
            )
        if self.recorders:
            # After the response is on its way: recording is bookkeeping, not the caller's wait.
            asyncio.get_running_loop().call_soon(self._record, done)

    def _record(self, done: Finished) -> None:
        for recorder in self.recorders:
            try:
                recorder(done)
            except Exception:  # a broken recorder must never fail requests
                log.exception("recorder failed for request %s", done.request_id)


def _spill_reason(decision: Decision) -> str:
    """Which local model was passed over and the load that caused it, for the header."""
    return "; ".join(f"{v.model}: {v.reason.removeprefix('spilled: ')}"
                     for v in decision.verdicts if v.spilled)
