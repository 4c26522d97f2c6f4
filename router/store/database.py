"""`Database`: the one code path over SQLite (embedded default) and PostgreSQL (several replicas).

The request path never waits on it: keys and teams are served from a cache (memory or Redis),
spend and request records are written in batches by `StoreWriter`. Migrations (Alembic, shipped
in this package) run on first use and by `junction db upgrade`.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from router.accounts.models import KeyRecord, TeamRecord
from router.stats.records import RequestRecord
from router.store.schema import api_keys, request_records, spend, teams

# A request record as the writer queues it: the indexed columns, then the record's JSON text.
# A tuple of shared strings and one JSON string is about a quarter of the pydantic object.
# The shared columns and the JSON, then the dashboard's (migration 0003), in
# `dashboard_columns`'s order.
RecordRow = tuple[Any, ...]
_DASHBOARD_COLUMNS = ("task", "sensitivity", "spill_reason", "tokens_in", "tokens_out",
                      "total_ms", "ttft_ms", "streamed", "exploration", "answered_local",
                      "sent_external", "egress_refused", "sensitive_where", "policy_version")
_RECORD_COLUMNS = ("request_id", "time", "team", "key_id", "route", "answered_by", "cost_usd",
                   "status", "record", *_DASHBOARD_COLUMNS)
_SQLITE_INSERT_RECORDS = (
    f"INSERT OR IGNORE INTO request_records ({', '.join(_RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)})"
)

# Any constant will do: every Junction replica takes the same advisory lock to migrate.
_MIGRATION_LOCK = 7_263_118_002
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DATABASE_FILE = "junction.db"


class StoreConfigError(ValueError):
    """The database settings name nothing Junction can open; the message says what to set."""


def database_url(url: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL for `JUNCTION_DATABASE_URL`, or SQLite in `JUNCTION_DATA_DIR`."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(data_dir / DATABASE_FILE).resolve()}"
    for scheme in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(scheme):
            return "postgresql+asyncpg://" + url[len(scheme):]
    for scheme in ("sqlite:///", "sqlite+aiosqlite:///"):
        if url.startswith(scheme):
            return "sqlite+aiosqlite:///" + url[len(scheme):]
    scheme = url.split(":", 1)[0]
    raise StoreConfigError(
        f"JUNCTION_DATABASE_URL: unsupported scheme {scheme!r}; use postgresql://user@host/db "
        "or sqlite:///path, or leave it unset for SQLite in JUNCTION_DATA_DIR"
    )


class Database:
    """Durable state: teams, keys, spend history, request records (and, later, policies)."""

    def __init__(self, url: str) -> None:
        # aiosqlite logs every statement with its parameters at DEBUG: policy texts (endpoint
        # credentials), records (content, when logging it is on). Keep it above DEBUG.
        logging.getLogger("aiosqlite").setLevel(logging.INFO)
        self.url = url
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        # A ping per checkout finds PostgreSQL connections a restart cut; a file has none.
        self.engine: AsyncEngine = create_async_engine(
            url, pool_pre_ping=self.dialect == "postgresql")
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # SQLite record batches go through a plain connection on one thread of their own, in
        # one call per batch: through aiosqlite each statement, begin and commit is a round trip
        # to its thread, and on a busy event loop every such hop waits for the GIL (measured:
        # 1,200 records/s against 8,100 with one call per batch).
        self._record_engine: Engine | None = None
        self._upgraded = False
        self._lock = asyncio.Lock()

    async def upgrade(self) -> None:
        """Apply every migration not yet applied (idempotent; once per process)."""
        async with self._lock:
            if self._upgraded:
                return
            # Replicas starting together must not migrate at once: PostgreSQL serialises them
            # with an advisory lock, SQLite (one machine) with a lock file.
            lock = await asyncio.to_thread(_lock_file, self._lock_path()) if (
                self.dialect == "sqlite") else None
            try:
                async with self.engine.begin() as conn:
                    if self.dialect == "postgresql":
                        await conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
                    await conn.run_sync(_run_migrations)
            finally:
                if lock is not None:
                    lock.close()
            self._upgraded = True

    def _lock_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite+aiosqlite:///") + ".migrate-lock")

    async def revision(self) -> str:
        """The schema revision applied (Alembic's version table)."""
        rows = await self._fetch(text("SELECT version_num FROM alembic_version"))
        return str(rows[0][0]) if rows else "none"

    async def aclose(self) -> None:
        if self._record_engine is not None:
            self._record_engine.dispose()
            self._record_engine = None
        await self.engine.dispose()

    # -- teams and keys --------------------------------------------------------------------

    async def put_team(self, record: TeamRecord) -> None:
        await self._upsert(
            teams, {"name": record.name, "record": record.model_dump_json(),
                    "updated_at": time.time()}, key="name",
        )

    async def put_key(self, record: KeyRecord) -> None:
        await self._upsert(
            api_keys, {"key_id": record.key_id, "team": record.team,
                       "record": record.model_dump_json(), "updated_at": time.time()},
            key="key_id",
        )

    async def load_teams(self) -> list[TeamRecord]:
        rows = await self._fetch(select(teams.c.record).order_by(teams.c.name))
        return [TeamRecord.model_validate_json(row[0]) for row in rows]

    async def load_keys(self) -> list[KeyRecord]:
        rows = await self._fetch(select(api_keys.c.record).order_by(api_keys.c.key_id))
        return [KeyRecord.model_validate_json(row[0]) for row in rows]

    # -- spend -----------------------------------------------------------------------------

    async def add_spend(self, increments: Mapping[str, int]) -> None:
        """Add each counter's settled micro-dollars, in one transaction."""
        if not increments:
            return
        await self.upgrade()
        now = time.time()
        async with self.engine.begin() as conn:
            for counter, amount in sorted(increments.items()):
                stmt = self._insert(spend).values(counter=counter, spent_micro=amount,
                                                  updated_at=now)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["counter"],
                    set_={"spent_micro": spend.c.spent_micro + amount, "updated_at": now},
                )
                await conn.execute(stmt)

    async def load_spend(self, since: float) -> dict[str, int]:
        """Every counter changed since `since` (Unix seconds): the current periods' spend."""
        rows = await self._fetch(
            select(spend.c.counter, spend.c.spent_micro).where(spend.c.updated_at >= since)
        )
        return {str(counter): int(amount) for counter, amount in rows}

    # -- request records -------------------------------------------------------------------

    async def insert_records(self, records: Sequence[RequestRecord]) -> None:
        """Store a batch; a request id already stored is kept as it was (replays are no-ops)."""
        await self.insert_rows([record_row(record) for record in records])

    async def insert_rows(self, rows: Sequence[RecordRow]) -> None:
        """Store a batch of rows made by `record_row`, in one transaction; a request id already
        stored is kept as it was."""
        if not rows:
            return
        await self.upgrade()
        if self.dialect == "sqlite":
            # On the event loop, synchronously: one multi-millisecond step per batch (500
            # rows: 6-12 ms). In a thread beside a busy event loop the insert waited for the
            # GIL at every row and commit: at ~950 requests/s the queue overflowed and dropped
            # 5,500-7,000 of 30,000 records (`gateway_bench.py --memory-only`); here none.
            self._insert_rows_sqlite(rows)
            return
        stmt = self._insert(request_records).on_conflict_do_nothing(
            index_elements=["request_id"]
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt, [dict(zip(_RECORD_COLUMNS, row, strict=True))
                                      for row in rows])

    async def prepare_writer(self) -> None:
        """Make the SQLite record writer's engine and connection now, at start, rather than
        on the first write under traffic."""
        if self.dialect == "sqlite":
            self._warm_record_engine()

    def _record_engine_now(self) -> Engine:
        if self._record_engine is None:
            self._record_engine = create_engine(
                "sqlite:///" + self.url.removeprefix("sqlite+aiosqlite:///"))
            event.listen(self._record_engine, "connect", _sqlite_pragmas)
        return self._record_engine

    def _warm_record_engine(self) -> None:
        with self._record_engine_now().begin() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM request_records WHERE 0")

    def _insert_rows_sqlite(self, rows: Sequence[RecordRow]) -> None:
        with self._record_engine_now().begin() as conn:
            conn.exec_driver_sql(_SQLITE_INSERT_RECORDS, list(rows))

    async def delete_records_before(self, cutoff: float) -> int:
        await self.upgrade()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                request_records.delete().where(request_records.c.time < cutoff)
            )
        return int(result.rowcount or 0)

    async def count_records(self) -> int:
        rows = await self._fetch(select(func.count()).select_from(request_records))
        return int(rows[0][0])

    async def load_records(self, since: float = 0.0, limit: int | None = None
                           ) -> list[RequestRecord]:
        """Records from `since` on, oldest first (what-if and tests read them)."""
        query = (select(request_records.c.record).where(request_records.c.time >= since)
                 .order_by(request_records.c.time))
        if limit is not None:
            query = query.limit(limit)
        rows = await self._fetch(query)
        return [RequestRecord.model_validate_json(row[0]) for row in rows]

    async def record_texts(self, since: float, limit: int) -> list[str]:
        """The newest `limit` records from `since` on, as stored JSON (what-if parses them
        itself: faster than pydantic for a hundred thousand rows)."""
        rows = await self._fetch(
            select(request_records.c.record).where(request_records.c.time >= since)
            .order_by(request_records.c.time.desc()).limit(limit)
        )
        return [str(row[0]) for row in rows]

    # -- plumbing --------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        return (sqlite.insert(table) if self.dialect == "sqlite"
                else postgresql.insert(table))

    async def _upsert(self, table: Any, values: dict[str, Any], *, key: str) -> None:
        await self.upgrade()
        stmt = self._insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key], set_={k: v for k, v in values.items() if k != key}
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def fetch(self, query: Any) -> list[Any]:
        """All rows of one query."""
        return await self._fetch(query)

    async def _fetch(self, query: Any) -> list[Any]:
        await self.upgrade()
        async with self.engine.connect() as conn:
            result = await conn.execute(query)
            return list(result.all())


def record_row(record: RequestRecord) -> RecordRow:
    """What the database stores of a record: the columns queries filter on (the dashboard's
    too), and its JSON. Prompt and completion are only ever present with content logging on;
    they are stored as the record carries them."""
    return (record.request_id, record.time, record.team, record.key_id, record.route,
            record.answered_by, record.cost_usd, record.status, record.model_dump_json(),
            *dashboard_columns(record).values())


def dashboard_columns(record: RequestRecord) -> dict[str, Any]:
    """The columns the dashboard filters and aggregates on (migration 0003)."""
    summary = record.classification
    return {
        "task": summary.task.value, "sensitivity": summary.sensitivity.value,
        "spill_reason": record.spill_reason, "tokens_in": record.tokens_in,
        "tokens_out": record.tokens_out, "total_ms": record.total_ms,
        "ttft_ms": record.ttft_ms, "streamed": record.streamed,
        "exploration": record.exploration, "answered_local": record.answered_local,
        "sent_external": record.sent_external,
        "egress_refused": any(a.outcome == "refused_egress" for a in record.attempts),
        "sensitive_where": sensitive_where(summary.findings, summary.fields),
        "policy_version": record.policy_version,
    }


_INDEX = re.compile(r"\[\d+\]")


def sensitive_where(findings: Mapping[str, int], fields: Mapping[str, Sequence[str]]
                    ) -> str | None:
    """`kind@field` for every kind found, with list indexes as [*] so requests group."""
    pairs = {f"{kind}@{_INDEX.sub('[*]', path)}" for kind, paths in fields.items()
             for path in paths}
    pairs |= {f"{kind}@" for kind in findings if kind not in fields}
    if not pairs:
        return None
    joined = ",".join(sorted(pairs))
    return joined if len(joined) <= 500 else joined[:500].rsplit(",", 1)[0]


def _lock_file(path: Path) -> IO[bytes]:
    handle = path.open("ab")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the handle is closed
    return handle


def _run_migrations(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and the one writer work together; NORMAL sync still survives a
    # kill -9 of the process (only an OS crash could lose the last commits); the busy
    # timeout makes two workers' writers wait for each other instead of failing.
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()

