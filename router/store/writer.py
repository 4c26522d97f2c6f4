"""`StoreWriter`: request records and spend increments reach the database in batches, off the
request path. A full queue drops new records and counts them; it never blocks a request.

A record is queued as a compact row (`database.record_row`: a few shared strings and its JSON),
about a quarter of the pydantic object, and each batch is one transaction.

Spend increments are summed per counter while they wait, so they take no room beyond one
entry per budget counter and are never dropped; a failed write puts them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Sequence

from router.accounts.models import Counter
from router.accounts.periods import Clock
from router.settings import StoreSettings
from router.stats.records import RequestRecord
from router.store.database import Database, RecordRow, record_row

log = logging.getLogger(__name__)

_RETENTION_SWEEP_S = 3600.0
_RETRY_AFTER_FAILURE_S = 1.0


class StoreWriter:
    """Queues records and spend; one background task writes them every `flush_interval_s`."""

    def __init__(self, db: Database, settings: StoreSettings, clock: Clock = time.time) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._records: deque[RecordRow] = deque()
        self._spend: Tally[str] = Tally()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_sweep = 0.0
        self._on_dropped: Callable[[int], None] = lambda _count: None
        self.dropped = 0
        self.written = 0

    def on_dropped(self, hook: Callable[[int], None]) -> None:
        """Called with how many records a full queue dropped (for a metric)."""
        self._on_dropped = hook

    @property
    def pending(self) -> int:
        return len(self._records)

    def record(self, record: RequestRecord) -> None:
        """Queue one record; never waits."""
        if len(self._records) >= self._settings.queue_size:
            self.dropped += 1
            self._on_dropped(1)
            return
        self._records.append(record_row(record))
        if len(self._records) >= self._settings.batch_size:
            self._wake.set()

    def add_spend(self, counters: Sequence[Counter], amount_micro: int) -> None:
        """Queue a settled amount for every counter it was charged to; never waits."""
        for counter in counters:
            self._spend[counter.name] += amount_micro

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="junction-store-writer")

    async def close(self) -> None:
        """Stop the loop and write everything still queued (best effort: errors are logged)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._records or self._spend:
            if not await self.flush():
                break

    async def flush(self) -> bool:
        """Write one batch of records and every queued spend increment; False on failure."""
        spend = dict(self._spend)
        self._spend.clear()
        batch = [self._records.popleft()
                 for _ in range(min(len(self._records), self._settings.batch_size))]
        try:
            await self._db.add_spend(spend)
            spend = {}
            await self._db.insert_rows(batch)
        except Exception as exc:  # the database is down or refused: keep the data, retry
            log.warning("could not write %d record(s) to the database: %s", len(batch),
                        type(exc).__name__)
            self._spend.update(spend)
            self._records.extendleft(reversed(batch))
            while len(self._records) > self._settings.queue_size:
                self._records.pop()
                self.dropped += 1
                self._on_dropped(1)
            return False
        self.written += len(batch)
        return True

    async def _run(self) -> None:
        interval = self._settings.flush_interval_s
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._closing:
                return
            ok = await self.flush()
            while ok and len(self._records) >= self._settings.batch_size:
                await asyncio.sleep(0)  # requests run between two batches' writes
                ok = await self.flush()
            if not ok:
                await asyncio.sleep(_RETRY_AFTER_FAILURE_S)
            if self._clock() - self._last_sweep >= _RETENTION_SWEEP_S:
                await self.sweep()

    async def sweep(self) -> None:
        """Delete the records older than the retention (the loop does so hourly)."""
        now = self._clock()
        self._last_sweep = now
        cutoff = now - self._settings.retention_days * 86400
        try:
            removed = await self._db.delete_records_before(cutoff)
        except Exception as exc:
            log.warning("could not delete expired records: %s", type(exc).__name__)
            return
        if removed:
            log.info("deleted %d request record(s) older than %.0f days", removed,
                     self._settings.retention_days)
