"""The durable store on real SQLite and a real PostgreSQL: migrations, write-through keys and
teams, spend that survives a restart, batched request records with retention."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.accounts import AccessService, AccountsSettings, Limits
from router.accounts.admin_wire import KeyCreate, TeamCreate
from router.classify.types import Task
from router.settings import Settings, StoreSettings
from router.stats.records import ClassificationSummary, RequestRecord
from router.store.database import Database, StoreConfigError, database_url
from router.store.state import DurableState, check_deployment
from router.store.writer import StoreWriter
from tests.unit.accounts.support import FakeClock

START = "2026-03-10T12:00:00+00:00"
HEAD = "0003"  # the newest migration shipped


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings naming a fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path / "data")
    else:
        yield Settings(database_url=request.getfixturevalue("postgres_url"))


def _database(settings: Settings) -> Database:
    secret = settings.database_url.get_secret_value() if settings.database_url else None
    return Database(database_url(secret, settings.data_dir))


def _record(request_id: str, at: float, cost: float = 0.001) -> RequestRecord:
    return RequestRecord(
        request_id=request_id, time=at, team="acme", route="default",
        classification=ClassificationSummary(task=Task.CHAT, difficulty=0.2,
                                             sensitivity="none"),  # type: ignore[arg-type]
        candidates=["local"], chosen="local", answered_by="local", cost_usd=cost,
        total_ms=12.0, status=200,
    )


def test_migrations_apply_once_and_report_their_revision(settings: Settings) -> None:
    async def scenario() -> None:
        for _ in range(2):  # the second run finds everything applied
            db = _database(settings)
            try:
                await db.upgrade()
                assert await db.revision() == HEAD
                assert await db.count_records() == 0
            finally:
                await db.aclose()

    asyncio.run(scenario())


def test_keys_teams_and_spend_survive_a_restart(settings: Settings) -> None:
    clock = FakeClock.at(START)

    def service(state: DurableState) -> AccessService:
        return AccessService.create(settings, None, accounts=AccountsSettings(), clock=clock,
                                    durable=state.wrap_accounts)

    async def first_life() -> str:
        state = DurableState(settings, clock)
        access = service(state)
        await state.start()
        await access.admin.create_team(TeamCreate(name="acme",
                                                  limits=Limits(daily_usd=1.0)))
        _, secret = await access.admin.create_key(KeyCreate(team="acme"))
        principal = await access.authenticate(f"Bearer {secret}")
        reservation = await access.admit(principal, 100, "req-1", 0.5)
        await access.settle(reservation, 0.25)
        await access.wait_settled()
        await access.aclose()
        await state.close()
        return secret

    async def second_life(secret: str) -> None:
        state = DurableState(settings, clock)
        access = service(state)
        await state.start()
        principal = await access.authenticate(f"Bearer {secret}")
        assert principal.team == "acme"
        report = await access.spend(team="acme")
        daily = next(line for line in report.lines if line.window.value == "day")
        assert daily.spent_usd == pytest.approx(0.25)
        # The restored spend counts against the budget: 0.80 more would pass 1.00.
        with pytest.raises(Exception, match="budget"):
            await access.admit(principal, 100, "req-2", 0.80)
        await access.aclose()
        await state.close()

    secret = asyncio.run(first_life())
    asyncio.run(second_life(secret))


def test_records_are_written_in_batches_and_expire_after_retention(settings: Settings) -> None:
    clock = FakeClock.at(START)

    async def scenario() -> None:
        db = _database(settings)
        writer = StoreWriter(db, StoreSettings(batch_size=7, retention_days=1), clock)
        old = clock.now - 2 * 86400
        writer.record(_record("old", old))
        for i in range(20):
            writer.record(_record(f"r{i}", clock.now + i))
        writer.record(_record("r0", clock.now))  # a replay of a stored id is a no-op
        assert await writer.flush()
        assert await db.count_records() == 7  # one batch
        await writer.start()  # the loop writes the rest (close waits for it)
        await writer.close()
        assert await db.count_records() == 21
        await writer.sweep()
        stored = await db.load_records()
        assert [r.request_id for r in stored] == [f"r{i}" for i in range(20)]
        await db.aclose()

    asyncio.run(scenario())


def test_a_full_queue_drops_records_and_counts_them_without_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database(database_url(None, tmp_path))
        writer = StoreWriter(db, StoreSettings(queue_size=3))
        dropped: list[int] = []
        writer.on_dropped(dropped.append)
        for i in range(5):
            writer.record(_record(f"r{i}", 1000.0 + i))
        assert writer.pending == 3
        assert writer.dropped == 2 and sum(dropped) == 2
        await writer.close()
        assert await db.count_records() == 3
        await db.aclose()

    asyncio.run(scenario())


def test_an_unreachable_database_keeps_records_queued_for_the_next_try(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
        writer = StoreWriter(db, StoreSettings())
        writer.record(_record("r0", 1000.0))
        assert not await writer.flush()
        assert writer.pending == 1 and writer.dropped == 0
        await db.aclose()

    asyncio.run(scenario())


def test_an_unknown_database_scheme_says_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError, match=r"'mysql'.*postgresql://"):
        database_url("mysql://db/junction", tmp_path)


def test_several_workers_without_a_shared_counter_store_are_refused() -> None:
    with pytest.raises(StoreConfigError, match="JUNCTION_REDIS_URL"):
        check_deployment(Settings(workers=2))
    check_deployment(Settings(workers=2, redis_url="redis://127.0.0.1:6379/0"))
    with pytest.raises(StoreConfigError, match=r"PostgreSQL.*JUNCTION_REDIS_URL"):
        check_deployment(Settings(database_url="postgresql://db/junction"))
    check_deployment(Settings(database_url="postgresql://db/junction",
                              redis_url="redis://127.0.0.1:6379/0"))


def test_junction_db_upgrade_migrates_the_configured_database(settings: Settings,
                                                             tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "JUNCTION_DATA_DIR": str(settings.data_dir)}
    if settings.database_url is not None:
        env["JUNCTION_DATABASE_URL"] = settings.database_url.get_secret_value()
    done = subprocess.run([sys.executable, "-m", "router.cli", "db", "upgrade"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"schema revision {HEAD}" in done.stdout
    assert "postgres@" not in done.stdout  # the URL (and any password in it) is not printed

    async def revision() -> str:
        db = _database(settings)
        try:
            return await db.revision()
        finally:
            await db.aclose()

    assert asyncio.run(revision()) == HEAD


def test_spend_comes_back_into_a_redis_that_lost_it(redis_url: str, tmp_path: Path) -> None:
    import uuid

    from router.app import make_redis

    clock = FakeClock.at(START)
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url)

    async def life(prefix: str, spend: float | None) -> float:
        redis = make_redis(settings)
        assert redis is not None
        state = DurableState(settings, clock)
        access = AccessService.create(settings, redis, clock=clock, durable=state.wrap_accounts,
                                      accounts=AccountsSettings(redis_prefix=prefix))
        try:
            await state.start()
            if spend is not None:
                await access.admin.create_team(TeamCreate(name="acme",
                                                          limits=Limits(daily_usd=1.0)))
                _, secret = await access.admin.create_key(KeyCreate(team="acme"))
                principal = await access.authenticate(f"Bearer {secret}")
                reservation = await access.admit(principal, 100, "req-1", 0.5)
                await access.settle(reservation, spend)
                await access.wait_settled()
            report = await access.spend(team="acme")
            return next(line.spent_usd for line in report.lines if line.window.value == "day")
        finally:
            await access.aclose()
            await state.close()
            await redis.aclose()

    assert asyncio.run(life(f"t-{uuid.uuid4().hex}", 0.25)) == pytest.approx(0.25)
    # A prefix Redis has never seen stands for a Redis that lost its data.
    assert asyncio.run(life(f"t-{uuid.uuid4().hex}", None)) == pytest.approx(0.25)
