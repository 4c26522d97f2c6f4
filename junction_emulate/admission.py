"""FIFO admission: a concurrency limit whose overflow waits in arrival order, as in a scheduler."""

from __future__ import annotations

import asyncio
from collections import deque

from junction_emulate.asgi import Request


class AdmissionGate:
    """Lets at most `limit` requests run (0 = no limit); the rest wait in arrival order.

    The limit may change at runtime; raising it admits waiters at once. A waiter whose client
    disconnects leaves the queue, as an aborted request leaves vLLM's waiting queue.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests queued behind the limit."""
        return len(self._waiters)

    def set_limit(self, limit: int) -> None:
        """Change the limit, admitting waiters if it grew."""
        self._limit = limit
        self._admit_waiters()

    async def acquire(self, request: Request) -> None:
        """Wait for a slot (FIFO); stop (ClientGone, ServerClosing) if abandoned first."""
        if not self._waiters and self._has_room():
            self.running += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await asyncio.wait((turn, request.abandoned()), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._abandon(turn)
            raise
        if not turn.done():
            self._abandon(turn)
            request.stop()

    def _abandon(self, turn: asyncio.Future[None]) -> None:
        if turn.done():
            # Admitted in the same instant it was abandoned: hand the slot on.
            self.release()
        else:
            self._waiters.remove(turn)

    def release(self) -> None:
        """Free a slot and admit the next waiter."""
        self.running -= 1
        self._admit_waiters()

    def _has_room(self) -> bool:
        return self._limit == 0 or self.running < self._limit

    def _admit_waiters(self) -> None:
        while self._waiters and self._has_room():
            self.running += 1
            self._waiters.popleft().set_result(None)
