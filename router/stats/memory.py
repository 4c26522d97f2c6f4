"""The embedded stats store: one process, no I/O, nothing to start."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from router.settings import StatsSettings
from router.stats.quality import MemoryLedger, QualityBook, QualityPriors
from router.stats.records import RequestRecord
from router.stats.score_share import ShareTracker
from router.stats.window import ModelStats, SlidingWindow, contributions


class MemoryStatsStore:
    """Stats, records and quality in this process; records are a bounded LRU."""

    def __init__(
        self,
        settings: StatsSettings,
        priors: QualityPriors,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._window = SlidingWindow(settings.window_s, settings.bucket_s)
        # Kept as JSON bytes: a few hundred bytes each instead of several KB of pydantic objects.
        self._records: OrderedDict[str, bytes] = OrderedDict()
        self.shares = ShareTracker(settings.shares, clock=clock)
        self.quality_book = QualityBook(
            priors, settings, self, MemoryLedger(settings.memory_max_records)
        )

    def record(self, rec: RequestRecord) -> None:
        """O(attempts): a few counter increments and one LRU insert."""
        now = self._clock()
        if rec.prompt_score is not None:
            self.shares.observe(rec.route, rec.prompt_score)
        for contribution in contributions(rec):
            self._window.add(now, contribution)
        self._records[rec.request_id] = rec.model_dump_json().encode()
        self._records.move_to_end(rec.request_id)
        if len(self._records) > self._settings.memory_max_records:
            self._records.popitem(last=False)

    def snapshot(self, task: str, model: str) -> ModelStats:
        return self._window.summary((str(task), model), self._clock())

    async def get_record(self, request_id: str) -> RequestRecord | None:
        # A record older than the retention is gone, as it would be from Redis.
        raw = self._records.get(request_id)
        if raw is None:
            return None
        rec = RequestRecord.model_validate_json(raw)
        if self._clock() - rec.time > self._settings.record_retention_s:
            return None
        return rec

    async def start(self) -> None:
        """Nothing runs in the background here."""

    async def close(self) -> None:
        """Nothing to stop."""
