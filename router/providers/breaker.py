"""A per-model circuit breaker: open after consecutive failures, one half-open probe later.

An upstream that answers 429/503 with Retry-After opens its model's circuit for that long
(bounded), since calling it sooner only earns another refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float = 0.0
    state: State = "closed"
    probing: bool = False
    open_for: float = 0.0  # how long this opening lasts: the cooldown or a Retry-After
    retry_after: bool = False


class CircuitBreakers:
    """One circuit per model name; in-process (each replica learns on its own)."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_retry_after_s: float = 300.0,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.max_retry_after_s = max_retry_after_s
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, model: str) -> State:
        circuit = self._circuits.get(model)
        if circuit is None:
            return "closed"
        if circuit.state == "open" and self._clock() - circuit.opened_at >= circuit.open_for:
            circuit.state = "half_open"
            circuit.probing = False
        return circuit.state

    def blocked_reason(self, model: str) -> str | None:
        """None when a call may go ahead; otherwise why not (for explain and attempts)."""
        state = self.state(model)
        if state == "closed":
            return None
        circuit = self._circuits[model]
        if state == "half_open":
            return "circuit half-open, probe in flight" if circuit.probing else None
        left = circuit.open_for - (self._clock() - circuit.opened_at)
        if circuit.retry_after:
            return f"circuit open: the upstream asked to retry after {left:.1f}s (Retry-After)"
        return f"circuit open after {circuit.failures} consecutive failures, retry in {left:.1f}s"

    def before_call(self, model: str) -> bool:
        """Claim the right to call; False while open or while another probe is in flight."""
        state = self.state(model)
        if state == "closed":
            return True
        circuit = self._circuits[model]
        if state == "half_open" and not circuit.probing:
            circuit.probing = True
            return True
        return False

    def record_success(self, model: str) -> None:
        circuit = self._circuits.get(model)
        if circuit is not None:
            circuit.failures = 0
            circuit.state = "closed"
            circuit.probing = False

    def record_failure(self, model: str, retry_after_s: float | None = None) -> None:
        """One failed call; `retry_after_s` (the upstream's Retry-After) opens it that long."""
        circuit = self._circuits.setdefault(model, _Circuit())
        circuit.failures += 1
        if retry_after_s is not None and retry_after_s > 0:
            self._open(circuit, min(retry_after_s, self.max_retry_after_s), retry_after=True)
        elif circuit.state == "half_open" or circuit.failures >= self.failure_threshold:
            self._open(circuit, self.cooldown_s, retry_after=False)

    def _open(self, circuit: _Circuit, duration: float, *, retry_after: bool) -> None:
        circuit.state = "open"
        circuit.opened_at = self._clock()
        circuit.open_for = duration
        circuit.retry_after = retry_after
        circuit.probing = False
