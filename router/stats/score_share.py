"""The running distribution of routing scores per route, to hold a target strong-model share.

A route that asks for `strong_share: 0.3` needs the score's 70th percentile on *current*
traffic: a threshold calibrated on one kind of traffic can send almost all of another kind to
the strong model. Scores fall into fixed buckets over [-1, 1] (the learned router's gain lies
there), counted per time slot; the estimate reads the slots of the last `window_s` seconds, so
it follows a shift in traffic within one window. Fixed buckets, unlike a P² or t-digest sketch,
add up exactly across slots and replicas: the Redis store sums replicas' counts with HINCRBY.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from router.settings import ShareSettings

__all__ = ["ShareSettings", "ShareTracker", "ShareView", "bucket_of", "threshold_for_share"]

LOW, HIGH = -1.0, 1.0


@dataclass(frozen=True)
class ShareView:
    """The threshold that gives the target share on recent traffic, and what it rests on."""

    threshold: float
    target_share: float
    samples: int


def bucket_of(score: float, buckets: int) -> int:
    """The bucket of a score; scores outside [-1, 1] fall into the end buckets."""
    if math.isnan(score):
        return 0
    position = (min(max(score, LOW), HIGH) - LOW) / (HIGH - LOW)
    return min(int(position * buckets), buckets - 1)


def threshold_for_share(counts: Mapping[int, int], buckets: int, share: float) -> float | None:
    """The score at or above which `share` of the counted scores lie (linear within a bucket)."""
    total = sum(counts.values())
    if total == 0:
        return None
    wanted = share * total
    width = (HIGH - LOW) / buckets
    above = 0.0
    for bucket in sorted(counts, reverse=True):
        count = counts[bucket]
        if above + count >= wanted:
            # Scores are taken as spread evenly within their bucket.
            inside = (wanted - above) / count if count else 0.0
            return LOW + (bucket + 1 - inside) * width
        above += count
    return LOW


class ShareTracker:
    """Per route, bucket counts per time slot; reads are from memory and never block."""

    def __init__(
        self, settings: ShareSettings | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings or ShareSettings()
        self._clock = clock
        self._counts: dict[str, dict[int, Counter[int]]] = defaultdict(dict)
        # route -> (slot, scores seen, share, view) of the last estimate; None forces a recompute.
        self._seen: Counter[str] = Counter()
        self._cached: dict[str, tuple[int, int, float, ShareView | None]] = {}

    def slot(self, now: float | None = None) -> int:
        return int((self._clock() if now is None else now) // self.settings.slot_s)

    def observe(self, route: str, score: float) -> None:
        """Count one score of a request on `route`; O(1)."""
        slots = self._counts[route]
        slot = self.slot()
        slots.setdefault(slot, Counter())[bucket_of(score, self.settings.buckets)] += 1
        self._seen[route] += 1
        self._forget_old(slots, slot)

    def replace_slot(self, route: str, slot: int, counts: Mapping[int, int]) -> None:
        """Set one slot's counts (the Redis store's totals over every replica)."""
        self._counts[route][slot] = Counter(counts)
        self._cached.pop(route, None)
        self._forget_old(self._counts[route], self.slot())

    def routes(self) -> Iterable[str]:
        return list(self._counts)

    def recent_slots(self) -> range:
        current = self.slot()
        return range(current - self.settings.slots + 1, current + 1)

    def view(self, route: str, share: float) -> ShareView | None:
        """The threshold for `share` on the last window's scores; None below min_samples."""
        slot, seen = self.slot(), self._seen[route]
        cached = self._cached.get(route)
        if cached is not None:
            at_slot, at_seen, at_share, view = cached
            fresh = seen - at_seen < self.settings.recompute_every
            if view is not None and at_slot == slot and at_share == share and fresh:
                return view
        view = self._estimate(route, share)
        self._cached[route] = (slot, seen, share, view)
        return view

    def _estimate(self, route: str, share: float) -> ShareView | None:
        slots = self._counts.get(route, {})
        total: Counter[int] = Counter()
        for slot in self.recent_slots():
            total.update(slots.get(slot, {}))
        samples = sum(total.values())
        if samples < self.settings.min_samples:
            return None
        threshold = threshold_for_share(total, self.settings.buckets, share)
        return None if threshold is None else ShareView(threshold, share, samples)

    def _forget_old(self, slots: dict[int, Counter[int]], current: int) -> None:
        oldest = current - self.settings.slots
        for slot in [s for s in slots if s <= oldest]:
            del slots[slot]
