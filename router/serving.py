"""Chat completions end to end: parse -> classify -> decide -> execute -> record.

No HTTP framework here: the API layer hands in bytes and headers and gets back a `Reply`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry import trace

from router.classify.types import Classification, Classifier, Sensitivity
from router.errors import (
    InvalidRequest,
    JunctionError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    UpstreamError,
)
from router.execute import AllAttemptsFailed, Executor, Outcome, UpstreamRejected
from router.policy.engine import Decision, PolicyEngine, RequestContext, UnknownModel
from router.policy.pricing import ModelPrice
from router.protocol import ChatCompletionRequest, parse_chat_request
from router.providers.base import OpenStream, Usage
from router.telemetry import Metrics

log = logging.getLogger("junction.access")
tracer = trace.get_tracer(__name__)

SENSITIVITY_HEADER = "x-junction-sensitivity"


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
    extra: dict[str, Any] = field(default_factory=dict)


Recorder = Callable[[Finished], Awaitable[None] | None]


@dataclass(slots=True)
class _Request:
    request_id: str
    t0: float
    started: float
    data: dict[str, Any]
    chat: ChatCompletionRequest
    classification: Classification
    ctx: RequestContext


class ChatService:
    """Owns the request path; built once in `create_app` with everything it needs."""

    def __init__(
        self,
        *,
        classifier: Classifier,
        engine: PolicyEngine,
        executor: Executor,
        prices: Mapping[str, ModelPrice],
        metrics: Metrics,
        recorders: list[Recorder] | None = None,
    ) -> None:
        self.classifier = classifier
        self.engine = engine
        self.executor = executor
        self.prices = prices
        self.metrics = metrics
        self.recorders = recorders or []

    # -- entry points ----------------------------------------------------------------------

    def prepare(self, raw: bytes, headers: Mapping[str, str]) -> _Request:
        t0 = time.perf_counter()
        data = parse_json(raw)
        chat = parse_chat_request(data)
        floor = header_sensitivity(headers)
        classification = self.classifier.classify(data, min_sensitivity=floor)
        ctx = RequestContext(
            requested_model=chat.model,
            headers=headers,
            max_output_tokens=chat.output_limit,
        )
        return _Request(
            request_id="jr-" + uuid.uuid4().hex,
            t0=t0,
            started=time.time(),
            data=data,
            chat=chat,
            classification=classification,
            ctx=ctx,
        )

    def decide(self, req: _Request) -> Decision:
        try:
            return self.engine.decide(req.classification, req.ctx)
        except UnknownModel:
            names = sorted(["auto", *self.engine.policy.models, *(r.name for r in
                            self.engine.policy.routes)])
            raise NotFound(
                f"model {req.chat.model!r} is not 'auto', a route or a model of this gateway's "
                f"policy; choose one of: {', '.join(names)}",
                param="model",
                code="model_not_found",
            ) from None

    def explain(self, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        req = self.prepare(raw, headers)
        decision = self.decide(req)
        out = decision.to_dict()
        out["requested_model"] = req.chat.model
        return out

    async def complete(self, raw: bytes, headers: Mapping[str, str]) -> Reply:
        req = self.prepare(raw, headers)
        with tracer.start_as_current_span("junction.chat") as span:
            decision = self.decide(req)
            span.set_attribute("junction.route", decision.route)
            span.set_attribute("junction.task", req.classification.task.value)
            span.set_attribute("junction.sensitivity", req.classification.sensitivity.value)
            self._refuse_if_rejected(req, decision)
            if req.chat.stream:
                return await self._stream(req, decision)
            return await self._complete(req, decision)

    # -- non-streaming ---------------------------------------------------------------------

    async def _complete(self, req: _Request, decision: Decision) -> Reply:
        try:
            completion, outcome = await self.executor.complete(req.data, decision)
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self._failed(req, decision, exc)
        model = outcome.model or ""
        usage = completion.usage
        if not usage.reported:
            usage.prompt_tokens = req.classification.prompt_tokens
        cost = self.prices[model].cost(usage.prompt_tokens, usage.completion_tokens)
        total_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self._headers(req, decision, outcome, total_ms)
        await self._finish(Finished(
            request_id=req.request_id, started=req.started, decision=decision, outcome=outcome,
            usage=usage, cost_usd=cost, status=200, total_ms=total_ms, ttft_ms=total_ms,
            streamed=False,
        ))
        return Reply(200, headers, body=completion.body)

    # -- streaming -------------------------------------------------------------------------

    async def _stream(self, req: _Request, decision: Decision) -> Reply:
        try:
            stream, outcome = await self.executor.open_stream(
                req.data, decision, req.chat.wants_usage
            )
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self._failed(req, decision, exc)
        ttft_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self._headers(req, decision, outcome, ttft_ms)
        headers["cache-control"] = "no-cache"
        return Reply(200, headers, stream=self._forward(req, decision, stream, outcome, ttft_ms))

    async def _forward(
        self,
        req: _Request,
        decision: Decision,
        stream: OpenStream,
        outcome: Outcome,
        ttft_ms: float,
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
            await self._finish(Finished(
                request_id=req.request_id, started=req.started, decision=decision,
                outcome=outcome, usage=usage,
                cost_usd=self.prices[model].cost(usage.prompt_tokens, usage.completion_tokens),
                status=status, total_ms=(time.perf_counter() - req.t0) * 1000.0,
                ttft_ms=ttft_ms, streamed=True, error=stream.end.error,
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
            if not _is_openai_error(body):
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
        if decision.fail_closed:
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
        await self._finish(self._failure_record(req, decision, outcome, error.status_code,
                                                total_ms, error.message))
        return Reply(error.status_code, headers, body=orjson.dumps(error.body()))

    def _failure_record(
        self, req: _Request, decision: Decision, outcome: Outcome, status: int, total_ms: float,
        error: str,
    ) -> Finished:
        return Finished(
            request_id=req.request_id, started=req.started, decision=decision, outcome=outcome,
            usage=Usage(), cost_usd=0.0, status=status, total_ms=total_ms, ttft_ms=None,
            streamed=req.chat.stream, error=error,
        )

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
            "x-junction-model": outcome.model or "",
            "x-junction-attempts": outcome.header(),
            "x-junction-overhead-ms": f"{overhead:.3f}",
            "x-junction-task": req.classification.task.value,
            "x-junction-sensitivity": req.classification.sensitivity.value,
        }

    async def _finish(self, done: Finished) -> None:
        m = self.metrics
        route = done.decision.route if done.decision else "none"
        model = (done.outcome.model if done.outcome else None) or "none"
        m.requests.labels(route, model, str(done.status)).inc()
        if done.outcome is not None:
            for attempt in done.outcome.attempts:
                m.attempts.labels(attempt.model, attempt.outcome).inc()
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
            spec = self.engine.policy.models[done.outcome.model]
            sensitivity = done.decision.classification.sensitivity.value if done.decision else ""
            m.residency.labels(spec.effective_residency, sensitivity).inc()
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request=%s route=%s model=%s status=%d attempts=%s total_ms=%.1f cost=%.6f",
                done.request_id, route, model, done.status,
                done.outcome.header() if done.outcome else "", done.total_ms, done.cost_usd,
            )
        for recorder in self.recorders:
            result = recorder(done)
            if result is not None:
                await result


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON chat-completions request")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}",
                             code="invalid_json") from None


def header_sensitivity(headers: Mapping[str, str]) -> Sensitivity:
    value = headers.get(SENSITIVITY_HEADER)
    if value is None:
        return Sensitivity.NONE
    try:
        return Sensitivity(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Sensitivity)
        raise InvalidRequest(
            f"header {SENSITIVITY_HEADER}: {value!r} is not a sensitivity level; "
            f"use one of: {allowed}",
            param=SENSITIVITY_HEADER,
            code="invalid_sensitivity",
        ) from None


def _is_openai_error(body: bytes) -> bool:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("error"), dict)
