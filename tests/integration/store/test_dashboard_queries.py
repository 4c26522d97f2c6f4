"""The dashboard's read queries give the same answers on SQLite and a real PostgreSQL, and
the answers Python computes from the same records."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.dashboard_records import fill, synthetic_records
from router.store.database import Database, database_url
from router.store.requests import Dimension, RecordFilter, list_records, summarize

NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield database_url(None, tmp_path / "data")
    else:
        yield database_url(request.getfixturevalue("postgres_url"), tmp_path)


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def test_summaries_and_the_log_match_the_records(url: str) -> None:
    records = synthetic_records(3000, 86400, now=NOW)

    async def scenario() -> None:
        db = Database(url)
        try:
            await fill(db, records)
            flt = RecordFilter(since=NOW - 86400, until=NOW + 1)
            [total] = await summarize(db, flt)
            assert total.totals.requests == len(records)
            assert total.totals.cost_usd == pytest.approx(sum(r.cost_usd for r in records))
            assert total.totals.sensitive_local == sum(
                1 for r in records if r.classification.is_sensitive and r.answered_local)
            assert total.totals.spilled == sum(1 for r in records if r.spill_reason)

            by_model = {g.key["model"]: g.totals for g in
                        await summarize(db, flt, [Dimension.MODEL])}
            for model in ("local", "api-small"):
                times = [r.total_ms for r in records if r.answered_by == model]
                assert by_model[model].requests == len(times)
                for label, q in (("p50", 0.5), ("p95", 0.95)):
                    # A log-scale histogram: buckets are about 13 % wide.
                    assert by_model[model].latency_ms[label] == pytest.approx(
                        exact(times, q), rel=0.07)

            by_task = Counter(r.task.value for r in records)
            got = {g.key["task"]: g.totals.requests
                   for g in await summarize(db, flt, [Dimension.TASK])}
            assert got == dict(by_task)

            page = await list_records(db, RecordFilter(task="code", sensitivity="pii"), 20)
            expected = sorted((r for r in records if r.task.value == "code"
                               and r.classification.sensitivity.value == "pii"),
                              key=lambda r: (r.time, r.request_id), reverse=True)[:20]
            assert [row["request_id"] for row in page.rows] == [r.request_id for r in expected]
        finally:
            await db.aclose()

    asyncio.run(scenario())
