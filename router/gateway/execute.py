"""Carry out a `Decision`: attempt its models in order, with breakers and fallbacks.

Falls back on connection errors, timeouts, 429 and 5xx, and on 200s that are not answers
(an error body, invalid JSON), before the first byte; an upstream 4xx is the caller's answer
and is returned as it came. Each attempt runs against a deadline, cut to what is left of the
request's; a stream's breaker verdict waits for its end, so a stream that breaks counts.
Residency is checked again here, just before anything is sent, so a sensitive request cannot
reach an external model even if a bug upstream of this module let one through; and the egress
guard (`router.gateway.egress`) re-scans the very body an external model would get, whatever the
classifier said. A refused body goes to no external model; a local candidate may still serve
it, and if none does, `EgressRefused` says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span
from pydantic import SecretStr

from router.gateway import spans
from router.gateway.egress import EgressGuard, EgressRefusal
from router.policy.engine import Decision
from router.policy.schema import ModelSpec, Policy
from router.providers.balancer import EndpointBalancer
from router.providers.base import (
    AttemptFailed,
    CallTarget,
    Completion,
    EmbeddingProvider,
    NativeBody,
    OpenStream,
    Provider,
    StreamEnd,
)
from router.providers.breaker import CircuitBreakers
from router.providers.embedding_shape import Embedded, EmbeddingAsk
from router.redact import redact

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Attempt:
    model: str
    endpoint: str | None
    outcome: str
    duration_ms: float
    detail: str = ""


@dataclass(slots=True)
class Outcome:
    """What happened to one request upstream; filled in as attempts are made."""

    attempts: list[Attempt] = field(default_factory=list)
    model: str | None = None
    endpoint: str | None = None
    upstream_ms: float = 0.0
    egress_refusal: EgressRefusal | None = None  # what the egress guard found, if it refused
    # The answer's GenAI response attributes (id, model, finish reasons); only while tracing.
    response: dict[str, Any] = field(default_factory=dict)

    def header(self) -> str:
        return ",".join(f"{a.model}:{a.outcome}" for a in self.attempts)


class AllAttemptsFailed(Exception):
    def __init__(self, outcome: Outcome, last: AttemptFailed | None) -> None:
        super().__init__("every candidate failed")
        self.outcome = outcome
        self.last = last


class EgressRefused(AllAttemptsFailed):
    """Nothing served: the egress guard kept the body from every external candidate."""

    def __init__(self, outcome: Outcome, last: AttemptFailed | None,
                 refusal: EgressRefusal) -> None:
        super().__init__(outcome, last)
        self.refusal = refusal


class UpstreamRejected(Exception):
    """The upstream answered with a client error: forward it, do not fall back."""

    def __init__(self, outcome: Outcome, failure: AttemptFailed) -> None:
        super().__init__(failure.message)
        self.outcome = outcome
        self.failure = failure


class Executor:
    def __init__(
        self,
        policy: Policy,
        providers: Mapping[str, Provider],
        breakers: CircuitBreakers,
        api_keys: Mapping[str, SecretStr | None],
        default_timeout_s: float,
        endpoint_load: Any = None,
        guard: EgressGuard | None = None,
        *,
        attempt_total_s: float = 300.0,
        request_total_s: float = 600.0,
    ) -> None:
        self.policy = policy
        self.providers = providers
        self.breakers = breakers
        self.api_keys = api_keys
        self.default_timeout_s = default_timeout_s
        self.balancers = {name: EndpointBalancer() for name in policy.models}
        self.endpoint_load = endpoint_load
        self.guard = guard
        self.attempt_total_s = attempt_total_s
        self.request_total_s = request_total_s
        self._route_timeouts = {route.name: route.timeouts for route in policy.routes}
        self._streams: set[TrackedStream] = set()

    async def interrupt_streams(self, reason: str) -> int:
        """End every stream still open with an error event saying `reason` (at shutdown)."""
        streams = list(self._streams)
        for stream in streams:
            await stream.interrupt(reason)
        return len(streams)

    def _budgets(self, decision: Decision) -> tuple[float, float]:
        """(attempt, request) totals in seconds: the route's own, else the settings'."""
        own = self._route_timeouts.get(decision.route)
        attempt = (own.attempt_total_s if own else None) or self.attempt_total_s
        request = (own.request_total_s if own else None) or self.request_total_s
        return attempt, request

    def upstream_body(
        self, spec: ModelSpec, body: Mapping[str, Any], decision: Decision
    ) -> dict[str, Any]:
        out = dict(body)
        out["model"] = spec.model
        extras = [decision.extra_body, spec.extra_body]
        if spec.backend == "local":
            extras.append(decision.local_extra_body)
        for extra in extras:
            for key, value in extra.items():
                out.setdefault(key, value)  # what the caller sent wins
        return out

    def native_body(self, spec: ModelSpec, native: NativeBody) -> dict[str, Any]:
        """A door's own body for a model whose backend speaks it: only the model name and the
        model's own extra fields change (the route's are chat fields)."""
        out = dict(native.body)
        out["model"] = spec.model
        for key, value in spec.extra_body.items():
            out.setdefault(key, value)
        return out

    async def complete(
        self, body: Mapping[str, Any], decision: Decision, native: NativeBody | None = None
    ) -> tuple[Completion, Outcome]:
        async def call(provider: Provider, target: CallTarget, upstream: dict[str, Any],
                       outcome: Outcome) -> tuple[Completion, float]:
            completion = await provider.complete(target, upstream)
            span = trace.get_current_span()  # the attempt's
            if span.is_recording():
                outcome.response = spans.completion_attributes(completion.body)
                span.set_attributes(outcome.response)
                usage = completion.usage
                span.set_attributes(spans.usage_attributes(
                    usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens))
            return completion, completion.upstream_ms

        return await self._attempt(body, decision, call, native=native)

    async def embed(
        self, body: Mapping[str, Any], decision: Decision, ask: EmbeddingAsk
    ) -> tuple[Embedded, Outcome]:
        """An embeddings request, with the same attempts, fallbacks, breakers and egress guard
        as a chat completion; each answer is checked against `ask`."""
        async def call(provider: Provider, target: CallTarget, upstream: dict[str, Any],
                       outcome: Outcome) -> tuple[Embedded, float]:
            if not isinstance(provider, EmbeddingProvider):
                raise AttemptFailed("unsupported", f"backend {target.spec.backend!r} does not "
                                    "serve embeddings", retryable=True)
            embedded = await provider.embed(target, upstream, ask)
            return embedded, embedded.upstream_ms

        return await self._attempt(body, decision, call)

    async def open_stream(
        self, body: Mapping[str, Any], decision: Decision, want_usage: bool,
        native: NativeBody | None = None,
    ) -> tuple[OpenStream, Outcome]:
        span: Span = INVALID_SPAN

        async def call(provider: Provider, target: CallTarget, upstream: dict[str, Any],
                       outcome: Outcome) -> tuple[OpenStream, float]:
            if target.spec.backend in ("local", "openai"):
                # Ask for usage always (to count cost); the provider drops the extra event
                # when the client did not ask for it.
                upstream["stream_options"] = {
                    **(upstream.get("stream_options") or {}), "include_usage": True
                }
            stream = await provider.open_stream(target, upstream, want_usage)
            nonlocal span
            span = trace.get_current_span()  # the attempt's; it ends with the stream
            return stream, stream.first_byte_ms

        stream, outcome = await self._attempt(body, decision, call, settle_now=False,
                                              native=native)
        assert outcome.model is not None
        return TrackedStream(stream, outcome.model, self.breakers, self._streams,
                             span, outcome), outcome

    async def _attempt(
        self,
        body: Mapping[str, Any],
        decision: Decision,
        call: Callable[[Provider, CallTarget, dict[str, Any], Outcome],
                       Awaitable[tuple[T, float]]],
        settle_now: bool = True,
        native: NativeBody | None = None,
    ) -> tuple[T, Outcome]:
        """Try the decision's models in order until one answers; record every attempt.

        `settle_now=False` leaves the breaker's verdict on a success, and the end of the
        attempt's span, to the caller (a stream is judged when it ends). Each call runs in a
        CLIENT span of its own, the current span while the provider sends the request.
        `native`, when given, is sent instead of `body` to models whose backend speaks its API.
        """
        outcome = Outcome()
        last: AttemptFailed | None = None
        attempt_s, request_s = self._budgets(decision)
        loop = asyncio.get_running_loop()
        request_deadline = loop.time() + request_s
        for name, spec, target, upstream in self._targets(body, decision, outcome, native):
            left = request_deadline - loop.time()
            if left <= 0:
                last = AttemptFailed("deadline", f"the request deadline of {request_s:g}s "
                                     "passed before this model could be tried", retryable=True)
                outcome.attempts.append(Attempt(name, None, "deadline", 0.0, last.message))
                break
            if left < attempt_s:
                target = replace(target, deadline=request_deadline, total_s=request_s)
            else:
                target = replace(target, deadline=loop.time() + attempt_s, total_s=attempt_s)
            start = time.perf_counter()
            span = spans.start_attempt_span(spec, target.endpoint, upstream)
            try:
                with trace.use_span(span, record_exception=False,
                                    set_status_on_exception=False), \
                        self.balancers[name].track(target.endpoint or ""):
                    result, upstream_ms = await call(self.providers[spec.backend], target,
                                                     upstream, outcome)
            except AttemptFailed as failure:
                spans.fail(span, failure.outcome)
                last = failure
                self._failed(outcome, target, failure, start)
                if not failure.retryable:
                    raise UpstreamRejected(outcome, failure) from None
                continue
            except BaseException as exc:
                spans.fail(span, type(exc).__name__)
                raise
            if settle_now:
                span.end()
            self._succeeded(outcome, target, start, settle_now)
            if native is not None:
                native.answered = target.native is not None
            outcome.upstream_ms += upstream_ms
            return result, outcome
        if outcome.egress_refusal is not None:
            raise EgressRefused(outcome, last, outcome.egress_refusal)
        raise AllAttemptsFailed(outcome, last)

    def _refused(
        self, upstream: Mapping[str, Any], decision: Decision, name: str, outcome: Outcome
    ) -> bool:
        """Whether the egress guard keeps this body from this external model."""
        if self.guard is None:
            return False
        if outcome.egress_refusal is None:
            outcome.egress_refusal = self.guard.check(
                upstream, unscannable_local=decision.unscannable_policy == "local"
            )
            if outcome.egress_refusal is None:
                return False
            log.error(
                "egress guard refused to send a request to external model %s: %s",
                name, outcome.egress_refusal.describe(),
            )
        # Once refused, no other external model is tried: the body is the same one.
        outcome.attempts.append(Attempt(name, None, "refused_egress", 0.0,
                                        outcome.egress_refusal.describe()))
        return True

    def _targets(self, body: Mapping[str, Any], decision: Decision, outcome: Outcome,
                 native: NativeBody | None = None) -> Any:
        sensitive = decision.classification.is_sensitive
        for name in decision.attempts:
            spec = self.policy.models[name]
            if sensitive and spec.effective_residency != "local":
                # Unreachable unless the engine is wrong; refuse loudly rather than send.
                log.error("refused to send a sensitive request to external model %s", name)
                outcome.attempts.append(Attempt(name, None, "refused_residency", 0.0))
                continue
            passthrough = native if native is not None and native.backend == spec.backend else None
            upstream = (self.native_body(spec, passthrough) if passthrough is not None
                        else self.upstream_body(spec, body, decision))
            # The guard looks before the breaker is asked, so a refusal never holds a probe.
            if spec.effective_residency != "local" and self._refused(upstream, decision, name,
                                                                      outcome):
                continue
            if not self.breakers.before_call(name):
                outcome.attempts.append(Attempt(name, None, "circuit_open", 0.0))
                continue
            tried: set[str] = set()
            for _ in range(max(len(spec.endpoints), 1)):
                endpoint: str | None
                if spec.endpoints:
                    load = self.endpoint_load if spec.backend == "local" else None
                    endpoint = self.balancers[name].pick(spec.endpoints, frozenset(tried), load)
                    if endpoint is None:
                        break
                    tried.add(endpoint)
                else:
                    endpoint = None
                yield name, spec, CallTarget(
                    name=name,
                    spec=spec,
                    endpoint=endpoint,
                    api_key=self.api_keys.get(name),
                    timeout_s=spec.timeout_s or self.default_timeout_s,
                    native=passthrough,
                ), upstream
                last = outcome.attempts[-1] if outcome.attempts else None
                # Another endpoint of the same model only helps when this one was unreachable.
                if last is None or last.outcome not in ("connect_error", "timeout"):
                    break

    def _failed(
        self, outcome: Outcome, target: CallTarget, failure: AttemptFailed, start: float
    ) -> None:
        elapsed = (time.perf_counter() - start) * 1000.0
        outcome.upstream_ms += elapsed
        outcome.attempts.append(Attempt(target.name, _shown(target.endpoint), failure.outcome,
                                        elapsed, redact(failure.message)))
        if failure.retryable:
            self.breakers.record_failure(target.name, failure.retry_after_s)
        else:
            self.breakers.record_success(target.name)

    def _succeeded(
        self, outcome: Outcome, target: CallTarget, start: float, settle_now: bool
    ) -> None:
        elapsed = (time.perf_counter() - start) * 1000.0
        shown = _shown(target.endpoint)
        outcome.attempts.append(Attempt(target.name, shown, "ok", elapsed))
        outcome.model = target.name
        outcome.endpoint = shown
        if settle_now or self.breakers.state(target.name) == "half_open":
            # A half-open probe that opened a stream closes the circuit now: its verdict must
            # not wait on a stream that might never be iterated (and so never closed).
            self.breakers.record_success(target.name)


def _shown(endpoint: str | None) -> str | None:
    """An endpoint as records, explain and logs may show it: without credentials."""
    return redact(endpoint) if endpoint else endpoint


class TrackedStream:
    """An open stream that tells the breaker how it ended, and can be cut at shutdown.

    A stream that broke after its first byte is a failure of its model like any other; one
    the caller walked away from says nothing about the model, so it counts as a success.
    """

    def __init__(
        self, inner: OpenStream, model: str, breakers: CircuitBreakers,
        registry: set[TrackedStream], span: Span = INVALID_SPAN,
        outcome: Outcome | None = None,
    ) -> None:
        self._inner = inner
        self._span = span
        self._outcome = outcome
        self._model = model
        self._breakers = breakers
        self._registry = registry
        self._closed = False
        self._interrupted = False
        self.first_byte_ms = inner.first_byte_ms
        self.end: StreamEnd = inner.end
        registry.add(self)

    def events(self) -> AsyncIterator[bytes]:
        return self._inner.events()

    async def interrupt(self, reason: str) -> None:
        """Cut the upstream; the stream then ends with an error event saying `reason`."""
        self._interrupted = True
        self._inner.end.error = reason
        await self._inner.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._registry.discard(self)
        await self._inner.aclose()
        self._end_span()
        if self._interrupted:
            return  # our own doing, not the model's
        if self._inner.end.error is not None:
            self._breakers.record_failure(self._model)
        else:
            self._breakers.record_success(self._model)

    def _end_span(self) -> None:
        span, end = self._span, self._inner.end
        if span.is_recording():
            span.set_attributes(spans.usage_attributes(
                end.usage.prompt_tokens, end.usage.completion_tokens,
                end.usage.reasoning_tokens))
            response = spans.response_identity(end.response)
            if end.finish_reasons:
                response[spans.RESPONSE_FINISH_REASONS] = list(end.finish_reasons)
            span.set_attributes(response)
            if self._outcome is not None:
                self._outcome.response = response
            if end.error is not None:
                spans.fail(span, "interrupted" if self._interrupted else "stream_error")
                return
        span.end()
