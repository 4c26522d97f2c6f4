"""`DurableAccountStore`: keys and teams written through to the database, spend recorded in it.

The wrapped store (memory or Redis) stays the request path's cache and keeps the counters;
the database is the truth it is rebuilt from at start (`hydrate`).
"""

from __future__ import annotations

from collections.abc import Sequence

from router.accounts.memory import MemoryAccountStore
from router.accounts.models import Counter, CounterState, KeyRecord, TeamRecord
from router.accounts.periods import Clock
from router.accounts.ratelimits import RateRule
from router.accounts.redis_store import RedisAccountStore
from router.accounts.store import AccountStore, AdmitOutcome, RateOutcome, ReserveOutcome
from router.store.database import Database
from router.store.writer import StoreWriter

# Spend rows touched within this many days are loaded at start: the current day and month.
_SPEND_LOOKBACK_S = 32 * 86400


class DurableAccountStore:
    """An `AccountStore` whose keys, teams and settled spend outlive the process."""

    def __init__(self, cache: AccountStore, db: Database, writer: StoreWriter,
                 clock: Clock) -> None:
        self._cache = cache
        self._db = db
        self._writer = writer
        self._clock = clock

    async def hydrate(self) -> None:
        """Load keys, teams and (into an in-memory cache) the current periods' spend."""
        for team in await self._db.load_teams():
            await self._cache.put_team(team)
        for key in await self._db.load_keys():
            await self._cache.put_key(key)
        spent = await self._db.load_spend(self._clock() - _SPEND_LOOKBACK_S)
        if isinstance(self._cache, MemoryAccountStore):
            self._cache.seed_spend(spent)
        elif isinstance(self._cache, RedisAccountStore):
            # Only counters Redis lost: those it holds are newer than the database.
            await self._cache.seed_spend(spent, _SPEND_LOOKBACK_S)

    async def refresh(self) -> None:
        """After another replica changed a key or team: reload an in-memory cache. A Redis
        cache is shared, so it already holds the change (and reloading it could put back a
        record older than a change made meanwhile)."""
        if isinstance(self._cache, MemoryAccountStore):
            await self.hydrate()

    async def create_team(self, record: TeamRecord) -> bool:
        if not await self._cache.create_team(record):
            return False
        await self._db.put_team(record)
        return True

    async def put_team(self, record: TeamRecord) -> None:
        await self._db.put_team(record)
        await self._cache.put_team(record)

    async def get_team(self, name: str) -> TeamRecord | None:
        return await self._cache.get_team(name)

    async def list_teams(self) -> list[TeamRecord]:
        return await self._cache.list_teams()

    async def create_key(self, record: KeyRecord) -> bool:
        if not await self._cache.create_key(record):
            return False
        await self._db.put_key(record)
        return True

    async def put_key(self, record: KeyRecord) -> None:
        await self._db.put_key(record)
        await self._cache.put_key(record)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return await self._cache.get_key(key_id)

    async def list_keys(self) -> list[KeyRecord]:
        return await self._cache.list_keys()

    async def get_key_and_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]:
        return await self._cache.get_key_and_team(key_id)

    async def hit(self, rules: Sequence[RateRule]) -> RateOutcome:
        return await self._cache.hit(rules)

    async def reserve(
        self, reservation_id: str, amount_micro: int, counters: Sequence[Counter], ttl_s: float
    ) -> ReserveOutcome:
        return await self._cache.reserve(reservation_id, amount_micro, counters, ttl_s)

    async def admit(
        self,
        rules: Sequence[RateRule],
        reservation_id: str,
        amount_micro: int,
        counters: Sequence[Counter],
        ttl_s: float,
    ) -> AdmitOutcome:
        return await self._cache.admit(rules, reservation_id, amount_micro, counters, ttl_s)

    async def finish(
        self,
        reservation_id: str,
        counters: Sequence[Counter],
        actual_micro: int,
        marker_ttl_s: float,
    ) -> bool:
        finished = await self._cache.finish(reservation_id, counters, actual_micro, marker_ttl_s)
        if finished and actual_micro > 0:
            self._writer.add_spend(counters, actual_micro)
        return finished

    async def read(self, counters: Sequence[Counter]) -> list[CounterState]:
        return await self._cache.read(counters)
