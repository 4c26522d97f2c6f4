"""Settlements that could not reach the store, retried until it comes back.

A settlement lost in a Redis outage is spend never recorded and a reservation held until its
TTL. `FinishRetrier` keeps each failed finish in a bounded queue and retries it with
exponential backoff; when one succeeds (the store is back) the rest are retried at once. The
store's finish is idempotent by reservation id (a done marker, checked atomically), so a retry
of a finish that did land before its reply was lost counts once.

One entry per reservation id: a settle beats a release of the same id (the larger amount wins),
so a release issued after a failed settle cannot erase its spend.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from router.accounts.models import Reservation, micro_to_usd
from router.accounts.store import StoreUnavailable

logger = logging.getLogger(__name__)

# Why a finish was given up: queue_full, attempts_exhausted, shutdown, or error (not an outage).
DropReason = str
FinishCall = Callable[[Reservation, int], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` retries after the first failure, waiting `backoff_s`, doubling up to `max_s`."""

    attempts: int
    backoff_s: float
    max_backoff_s: float
    capacity: int

    def delay(self, retries_done: int) -> float:
        return float(min(self.backoff_s * 2**retries_done, self.max_backoff_s))


@dataclass(slots=True)
class _Pending:
    reservation: Reservation
    actual_micro: int
    retries_done: int = 0
    due: float = field(default_factory=time.monotonic)


class FinishRetrier:
    """Retries failed finishes in the background; `aclose` makes one last try at shutdown."""

    def __init__(
        self,
        finish: FinishCall,
        policy: RetryPolicy,
        on_drop: Callable[[DropReason], None] | None = None,
    ) -> None:
        self._finish = finish
        self._policy = policy
        self._on_drop = on_drop or (lambda reason: None)
        self._pending: dict[str, _Pending] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    @property
    def pending(self) -> int:
        """Finishes waiting for a retry."""
        return len(self._pending)

    def holds(self, reservation_id: str) -> bool:
        """Whether a finish of this reservation is waiting for a retry."""
        return reservation_id in self._pending

    def set_drop_hook(self, on_drop: Callable[[DropReason], None]) -> None:
        """Where dropped finishes are counted (the app's metrics)."""
        self._on_drop = on_drop

    def submit(self, reservation: Reservation, actual_micro: int) -> None:
        """Queue a finish that failed with `StoreUnavailable`; drop it if the queue is full."""
        rid = reservation.reservation_id
        queued = self._pending.get(rid)
        if queued is not None:
            # The settle beats a release of the same id: keep the larger amount.
            queued.actual_micro = max(queued.actual_micro, actual_micro)
            return
        if self._closing:
            self._drop(_Pending(reservation, actual_micro), "shutdown")
            return
        if len(self._pending) >= self._policy.capacity:
            self._drop(_Pending(reservation, actual_micro), "queue_full")
            return
        entry = _Pending(reservation, actual_micro, due=time.monotonic() + self._policy.delay(0))
        self._push(entry)
        logger.warning(
            "could not finish reservation %s; retrying for up to %d attempts",
            rid, self._policy.attempts,
        )
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once nothing is queued (for tests and shutdown)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop retrying; try every queued finish once more and drop what still fails."""
        self._closing = True
        if self._worker is not None:
            # The flag as well as the cancel: on Python 3.11 a cancel that lands as a call's
            # own asyncio.timeout expires can be swallowed, and the worker would go on.
            self._wake.set()
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        for rid in list(self._pending):
            entry = self._pending.pop(rid)
            if not await self._try(entry):
                self._drop(entry, "shutdown")
        self._heap.clear()
        self._idle.set()

    # -- internals --------------------------------------------------------------------------

    def _push(self, entry: _Pending) -> None:
        rid = entry.reservation.reservation_id
        self._pending[rid] = entry
        heapq.heappush(self._heap, (entry.due, next(self._order), rid))
        self._idle.clear()

    async def _run(self) -> None:
        while self._heap and not self._closing:
            due, _, rid = self._heap[0]
            delay = due - time.monotonic()
            if delay > 0:
                self._wake.clear()
                # A new, earlier entry wakes the worker; otherwise sleep until this one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                continue
            heapq.heappop(self._heap)
            entry = self._pending.get(rid)
            if entry is None or entry.due != due:
                continue  # a stale heap slot
            if await self._try(entry):
                del self._pending[rid]
                self._retry_all_now()  # the store is back: no need to wait out the others
                continue
            entry.retries_done += 1
            if entry.retries_done >= self._policy.attempts:
                del self._pending[rid]
                self._drop(entry, "attempts_exhausted")
                continue
            entry.due = time.monotonic() + self._policy.delay(entry.retries_done)
            heapq.heappush(self._heap, (entry.due, next(self._order), rid))
        self._idle.set()

    async def _try(self, entry: _Pending) -> bool:
        try:
            await self._finish(entry.reservation, entry.actual_micro)
        except StoreUnavailable:
            return False
        except Exception:
            # Not an outage (a corrupt record, a bug): retrying cannot help, and the worker
            # must live on for the others.
            logger.exception("finishing reservation %s failed", entry.reservation.reservation_id)
            self._on_drop("error")
        return True

    def _retry_all_now(self) -> None:
        now = time.monotonic()
        self._heap = []
        for rid, entry in self._pending.items():
            entry.due = now
            self._heap.append((now, next(self._order), rid))
        heapq.heapify(self._heap)

    def _drop(self, entry: _Pending, reason: DropReason) -> None:
        owners = ", ".join(sorted({c.label for c in entry.reservation.counters}))
        logger.error(
            "dropped the %s of reservation %s (%s on %s) after %d retries (%s); its budgets "
            "miss that spend and its hold lasts until the reservation TTL",
            "settlement" if entry.actual_micro else "release",
            entry.reservation.reservation_id,
            f"${micro_to_usd(entry.actual_micro):.6f}",
            owners,
            entry.retries_done,
            reason,
        )
        self._on_drop(reason)
