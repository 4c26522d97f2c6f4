"""Token timing, and the hooks through which a request's life is observed (vLLM's metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from junction_emulate.asgi import Request


class RequestObserver(Protocol):
    """Told of each stage of one generation request; created when the request arrives."""

    def admitted(self) -> None:
        """The request left the queue and started running."""

    def emitted(self, tokens: int) -> None:
        """One decoding step produced `tokens` tokens (one per choice)."""

    def finished(self, reason: str | None) -> None:
        """The request ended: "stop", "length", or None when aborted. Called at most once."""


class NullObserver:
    """Observes nothing: the OpenAI and Anthropic emulators keep no metrics."""

    def admitted(self) -> None:
        """Nothing to record."""

    def emitted(self, tokens: int) -> None:
        """Nothing to record."""

    def finished(self, reason: str | None) -> None:
        """Nothing to record."""


NULL_OBSERVER = NullObserver()


class Pacer:
    """Releases tokens on schedule: the first `ttft` seconds after start, then one per 1/`tps`.

    Due times are absolute from the start, so sleep overshoot never accumulates into drift.
    """

    __slots__ = ("_gap", "_request", "_start", "_ttft", "instant")

    def __init__(self, request: Request, ttft: float, tps: float) -> None:
        self._request = request
        self._start = time.perf_counter()
        self._ttft = ttft
        self._gap = 1.0 / tps if tps > 0 else 0.0
        #: Nothing to wait for: callers may skip `step` entirely.
        self.instant = ttft <= 0 and self._gap == 0.0

    async def step(
        self, index: int, before_pause: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Wait until token `index` is due; `before_pause` runs first if there is a wait."""
        delay = self._start + self._ttft + index * self._gap - time.perf_counter()
        if delay > 0:
            if before_pause is not None:
                await before_pause()
            await self._request.sleep(delay)
