"""Chat completions end to end: plan -> admit -> execute -> finish, one room each.

No HTTP framework here: the API layer hands in bytes and headers and gets back a `Reply`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN

from router.accounts import Principal, Reservation
from router.errors import JunctionError
from router.gateway import spans
from router.gateway.admit import Admission
from router.gateway.capacity import LocalCapacity
from router.gateway.execute import AllAttemptsFailed, Executor, Outcome, UpstreamRejected
from router.gateway.finish import Finisher, Reply
from router.gateway.judge import SampledJudge, answer_text
from router.gateway.parts import PolicyParts
from router.gateway.plan import PlannedRequest, Planner
from router.policy.engine import Decision, PolicyEngine
from router.providers.base import NativeBody, OpenStream
from router.telemetry import tracing_enabled

log = logging.getLogger("junction.access")


class ChatService:
    """Runs the request path's rooms in order; built once in `create_app`.

    The policy-bound parts (planner, executor, prices, judge, capacity) are held as one
    `PolicyParts`: a request takes the set current when it arrives and keeps it, and `use`
    replaces the set for new requests in one assignment.
    """

    def __init__(
        self,
        *,
        planner: Planner,
        admission: Admission,
        executor: Executor,
        finisher: Finisher,
        judge: SampledJudge | None = None,
        capacity: LocalCapacity | None = None,
    ) -> None:
        self.parts = PolicyParts(planner, executor, admission.prices, judge, capacity)
        self.admission = admission
        self.finisher = finisher
        self.background = admission.background
        access = admission.access
        if access is not None:
            metrics = finisher.metrics
            access.on_dropped_settlement(
                lambda reason: metrics.settlements_dropped.labels(reason).inc()
            )

    def use(self, parts: PolicyParts) -> None:
        """Serve new requests with `parts` (a policy activation); requests in flight keep
        theirs. One assignment, so no request sees half of a change."""
        self.parts = parts
        # Shared rooms read the policy only for requests that started after the change: the
        # reservation's prices (new requests pass theirs in) and the residency metric.
        self.admission.prices = parts.prices
        self.finisher.policy = parts.policy
        self.finisher.policy_version = parts.policy_version

    @property
    def planner(self) -> Planner:
        return self.parts.planner

    @property
    def engine(self) -> PolicyEngine:
        return self.parts.planner.engine

    @property
    def executor(self) -> Executor:
        return self.parts.executor

    @property
    def judge(self) -> SampledJudge | None:
        return self.parts.judge

    @property
    def capacity(self) -> LocalCapacity | None:
        return self.parts.capacity

    # -- entry points ----------------------------------------------------------------------

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        return await self.admission.authenticate(headers)

    async def explain_request(self, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """The decision serving would make now; reads live state and moves none of it."""
        principal, pressure = await self.admission.caller(headers)
        return self.parts.planner.explain(raw, headers, principal, pressure)

    async def complete(self, raw: bytes, headers: Mapping[str, str],
                       native: NativeBody | None = None) -> Reply:
        """Serve one chat-completions body. A door passes its own body as `native` too: it is
        what models whose backend speaks that API are sent (`native.answered` then says so,
        and the reply is in that API's shape)."""
        t0 = time.perf_counter()
        # This request's parts from here to its end, whatever is activated meanwhile.
        parts = self.parts
        # With tracing off the API's no-op span stands in, and no header is read.
        span = spans.start_request_span(headers) if tracing_enabled() else INVALID_SPAN
        req: PlannedRequest | None = None
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                standing = await self.admission.standing(headers)
                req = parts.planner.prepare(raw, headers, standing.principal, standing.pressure,
                                            t0)
                req.budget_used_share = standing.budget_used_share
                req.span = span
                return await self._serve(parts, req, native)
        except BaseException as exc:
            # Refused, invalid or cut short before finishing took the span: end it here.
            if req is None or req.span is not None:
                status = exc.status_code if isinstance(exc, JunctionError) else None
                spans.fail(span, str(status) if status else type(exc).__name__)
            raise

    async def _serve(self, parts: PolicyParts, req: PlannedRequest,
                     native: NativeBody | None = None) -> Reply:
        decision = parts.planner.decide(req)
        if parts.capacity is not None:
            # Serving acts on the decision, so it (and only it) moves the spill state.
            parts.capacity.remember(decision.spill_checks)
        if req.span is not None:
            self.finisher.trace_decision(req.span, req, decision, parts.policy_version)
        refusal = self.finisher.refusal(req, decision)
        if refusal is not None:
            raise refusal
        await self.admission.admit(req, decision, parts.prices)
        try:
            if req.chat.stream:
                return await self._stream(parts, req, decision, native)
            return await self._complete(parts, req, decision, native)
        finally:
            # Whatever did not settle (failure, disconnect, cancellation) is released.
            self.admission.release(req)

    async def drain(self) -> None:
        """Wait for settlements and judging still in flight (at shutdown)."""
        await self.background.drain()

    # -- non-streaming ---------------------------------------------------------------------

    async def _complete(self, parts: PolicyParts, req: PlannedRequest,
                        decision: Decision, native: NativeBody | None = None) -> Reply:
        try:
            completion, outcome = await parts.executor.complete(req.data, decision, native)
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self.finisher.failed(req, decision, exc)
        model = outcome.model or ""
        usage = completion.usage
        if not usage.reported:
            usage.prompt_tokens = req.classification.prompt_tokens
        cost = parts.prices.price(model).cost(usage.prompt_tokens, usage.completion_tokens)
        self.admission.settle(req, cost)
        total_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self.finisher.headers(req, decision, outcome, total_ms)
        done = self.finisher.finished(
            req, decision, outcome, usage, cost, 200, total_ms, total_ms, streamed=False,
        )
        if self.finisher.log_content:
            done.extra["completion"] = answer_text(completion.body)
        await self.finisher.finish(done)
        judge = parts.judge
        chat_shaped = native is None or not native.answered
        if judge is not None and chat_shaped and judge.wants(decision, req.request_id):
            self.background.spawn(self._judge(judge, req, decision, completion.body))
        return Reply(200, headers, body=completion.body)

    async def _judge(self, judge: SampledJudge, req: PlannedRequest, decision: Decision,
                     answer: bytes) -> None:
        await asyncio.sleep(0)  # after the response and its record
        try:
            await judge.judge(req.request_id, decision, req.data, answer)
        except JunctionError as exc:
            log.warning("judging %s failed: %s", req.request_id, exc.message)

    # -- streaming -------------------------------------------------------------------------

    async def _stream(self, parts: PolicyParts, req: PlannedRequest,
                      decision: Decision, native: NativeBody | None = None) -> Reply:
        try:
            stream, outcome = await parts.executor.open_stream(
                req.data, decision, req.chat.wants_usage, native
            )
        except (AllAttemptsFailed, UpstreamRejected) as exc:
            return await self.finisher.failed(req, decision, exc)
        ttft_ms = (time.perf_counter() - req.t0) * 1000.0
        headers = self.finisher.headers(req, decision, outcome, ttft_ms)
        headers["cache-control"] = "no-cache"
        # The stream owns the reservation from here: it settles when the stream ends.
        reservation, req.reservation = req.reservation, None
        return Reply(200, headers, stream=self._forward(
            parts, req, decision, stream, outcome, ttft_ms, reservation))

    async def _forward(
        self,
        parts: PolicyParts,
        req: PlannedRequest,
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
            cost = parts.prices.price(model).cost(usage.prompt_tokens, usage.completion_tokens)
            req.reservation = reservation
            self.admission.settle(req, cost)
            await self.finisher.finish(self.finisher.finished(
                req, decision, outcome, usage, cost, status,
                (time.perf_counter() - req.t0) * 1000.0, ttft_ms, streamed=True,
                error=stream.end.error,
            ))
