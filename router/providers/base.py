"""What every provider returns, and how an attempt fails.

A provider speaks one wire protocol. It either returns a complete response, opens a stream whose
first event has already arrived (so the executor can still fall back), or raises `AttemptFailed`
saying whether another model may be tried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import SecretStr

from router.policy.schema import ModelSpec

if TYPE_CHECKING:
    from router.providers.embedding_shape import Embedded, EmbeddingAsk

# More tokens than any model has a context for: a count above it is a lie, not usage.
MAX_REPORTED_TOKENS = 100_000_000
MAX_FINISH_REASONS = 8


def _token_count(value: object) -> int | None:
    """A token count from an upstream: a non-negative, plausible int (absent counts as 0)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_REPORTED_TOKENS else None


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    reported: bool = False  # False: estimated by Junction, the upstream sent no usable usage

    def update_from(self, usage: object) -> bool:
        """Take the upstream's usage if every count is valid; otherwise keep the estimate.

        Upstream answers are untrusted: a string, a float, a negative or absurd count makes the
        whole usage ignored (False), never the request fail.
        """
        if not isinstance(usage, Mapping):
            return False
        details = usage.get("completion_tokens_details")
        if details is None:
            details = {}
        if not isinstance(details, Mapping):
            return False
        prompt = _token_count(usage.get("prompt_tokens"))
        completion = _token_count(usage.get("completion_tokens"))
        reasoning = _token_count(details.get("reasoning_tokens"))
        if prompt is None or completion is None or reasoning is None:
            return False
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        self.reasoning_tokens = reasoning
        self.reported = True
        return True


class AttemptFailed(Exception):
    """One attempt at one model failed.

    `retryable` attempts (connection errors, timeouts, 429, 5xx) let the executor try the next
    model; other failures (a 4xx from the upstream) are the caller's to see, so `status` and
    `body` carry the upstream's own answer.
    """

    def __init__(
        self,
        outcome: str,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        body: bytes | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.retryable = retryable
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s  # the upstream's Retry-After, in seconds from now


@dataclass(slots=True)
class Completion:
    """A whole non-streamed response: the body to forward as it came, and its usage."""

    body: bytes
    usage: Usage
    upstream_ms: float


@dataclass(slots=True)
class StreamEnd:
    """How a stream finished, filled in while it is forwarded."""

    usage: Usage = field(default_factory=Usage)
    completed: bool = False
    error: str | None = None
    chunks: int = 0
    # For the attempt's span: the upstream's response id and model, and why choices ended.
    response: dict[str, str] = field(default_factory=dict)
    finish_reasons: list[str] = field(default_factory=list)

    def note_finish(self, reason: str) -> None:
        if len(self.finish_reasons) < MAX_FINISH_REASONS:
            self.finish_reasons.append(reason[:32])

    def note_response(self, obj: Mapping[str, Any]) -> None:
        """Keep a chunk's `id` and `model` (untrusted, so bounded)."""
        for key in ("id", "model"):
            value = obj.get(key)
            if isinstance(value, str) and value:
                self.response[key] = value[:128]


class OpenStream(Protocol):
    """A stream whose first event has arrived; iterate it for SSE bytes, then close it."""

    first_byte_ms: float
    end: StreamEnd

    def events(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class NativeBody:
    """A door's own request body, sent as it is to models whose backend speaks that API
    (passthrough); the executor sets `answered` when such a model gave the answer."""

    backend: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)  # e.g. anthropic-beta, to forward
    answered: bool = False


@dataclass(frozen=True, slots=True)
class CallTarget:
    """One model at one endpoint, with its credentials, ready to be called."""

    name: str
    spec: ModelSpec
    endpoint: str | None
    api_key: SecretStr | None
    timeout_s: float
    # The attempt's deadline on the event loop's clock (`loop.time()`): its total budget, cut
    # to what is left of the request's.
    deadline: float | None = None
    total_s: float = 0.0  # the budget the deadline came from, for messages
    # Set when the body is a door's own (`NativeBody.body`), not a chat-completions body.
    native: NativeBody | None = None


class Provider(Protocol):
    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion: ...

    async def open_stream(
        self, target: CallTarget, body: dict[str, Any], want_usage: bool
    ) -> OpenStream: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    """A provider that also serves `POST /v1/embeddings`-shaped requests."""

    async def embed(self, target: CallTarget, body: dict[str, Any],
                    ask: EmbeddingAsk) -> Embedded: ...


def retryable_status(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP Retry-After (delay in seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


_PROPAGATOR = TraceContextTextMapPropagator()


def add_trace_context(headers: dict[str, str]) -> None:
    """Add the current span's W3C `traceparent` (and `tracestate`) to an upstream request's
    headers, when a span is recording (the executor's attempt span); with tracing off, none."""
    if trace.get_current_span().is_recording():
        _PROPAGATOR.inject(headers)
