"""What every provider returns, and how an attempt fails.

A provider speaks one wire protocol. It either returns a complete response, opens a stream whose
first event has already arrived (so the executor can still fall back), or raises `AttemptFailed`
saying whether another model may be tried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from router.policy.schema import ModelSpec


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    reported: bool = False  # False: estimated by Junction, the upstream sent no usage

    def update_from(self, usage: Mapping[str, Any]) -> None:
        self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        self.completion_tokens = int(usage.get("completion_tokens") or 0)
        details = usage.get("completion_tokens_details") or {}
        self.reasoning_tokens = int(details.get("reasoning_tokens") or 0)
        self.reported = True


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
    ) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.retryable = retryable
        self.status = status
        self.body = body


@dataclass(slots=True)
class Completion:
    """A whole non-streamed response: the body to forward as it came, and its usage."""

    body: bytes
    usage: Usage
    upstream_ms: float
    reasoning_chars: int = 0


@dataclass(slots=True)
class StreamEnd:
    """How a stream finished, filled in while it is forwarded."""

    usage: Usage = field(default_factory=Usage)
    completed: bool = False
    error: str | None = None
    chunks: int = 0


class OpenStream(Protocol):
    """A stream whose first event has arrived; iterate it for SSE bytes, then close it."""

    first_byte_ms: float
    end: StreamEnd

    def events(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CallTarget:
    """One model at one endpoint, with its credentials, ready to be called."""

    name: str
    spec: ModelSpec
    endpoint: str | None
    api_key: SecretStr | None
    timeout_s: float


class Provider(Protocol):
    async def complete(self, target: CallTarget, body: dict[str, Any]) -> Completion: ...

    async def open_stream(
        self, target: CallTarget, body: dict[str, Any], want_usage: bool
    ) -> OpenStream: ...

    async def aclose(self) -> None: ...


def retryable_status(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500
