"""`DurableState`: the database, its batched writer and the write-through account store,
built once by `create_app` and started and closed with the app."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from router.accounts.periods import Clock
from router.accounts.store import AccountStore
from router.gateway.finish import Finished
from router.gateway.recording import to_record
from router.settings import Settings
from router.stats.store import StatsStore
from router.store.accounts import DurableAccountStore
from router.store.database import Database, StoreConfigError, database_url
from router.store.writer import StoreWriter

log = logging.getLogger(__name__)


def check_deployment(settings: Settings) -> None:
    """Refuse what cannot keep budgets and rate limits exact: several workers, or replicas
    sharing a PostgreSQL, with no shared counter store would each count on their own."""
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    if url.startswith(("postgresql", "postgres:")) and not settings.redis_url:
        raise StoreConfigError(
            "JUNCTION_DATABASE_URL names PostgreSQL, which is for several replicas; they need "
            "a shared counter store, or each would count budgets and rate limits on its own: "
            "set JUNCTION_REDIS_URL (redis://host:6379/0), or leave JUNCTION_DATABASE_URL "
            "unset for one replica on SQLite"
        )
    if settings.workers > 1 and not settings.redis_url:
        raise StoreConfigError(
            f"JUNCTION_WORKERS={settings.workers} needs a shared counter store, or each worker "
            "would count budgets and rate limits on its own: set JUNCTION_REDIS_URL "
            "(redis://host:6379/0), or run one worker"
        )


class DurableState:
    """Owns the database connection pool and the writer task."""

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        url = settings.database_url.get_secret_value() if settings.database_url else None
        self.db = Database(database_url(url, settings.data_dir))
        self.writer = StoreWriter(self.db, settings.store, clock)
        self._clock = clock
        self.accounts: DurableAccountStore | None = None

    def wrap_accounts(self, cache: AccountStore) -> AccountStore:
        """For `AccessService.create(durable=...)`: the cache, written through to the database."""
        self.accounts = DurableAccountStore(cache, self.db, self.writer, self._clock)
        return self.accounts

    def recorder(self, stats: StatsStore) -> Callable[[Finished], None]:
        """A request recorder (after the response): one record, built once, for the live
        statistics and for the database's write queue."""

        def record(done: Finished) -> None:
            rec = to_record(done)
            if rec is not None:
                stats.record(rec)
                self.writer.record(rec)

        return record

    async def start(self) -> None:
        """Migrate, load keys, teams and spend into the caches, start writing."""
        await self.db.upgrade()
        await self.db.prepare_writer()
        if self.accounts is not None:
            await self.accounts.hydrate()
        await self.writer.start()

    async def close(self) -> None:
        await self.writer.close()
        await self.db.aclose()


__all__ = ["DurableState", "StoreConfigError", "check_deployment"]
