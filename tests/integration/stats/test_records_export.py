"""`junction records export` reads a gateway's records and feedback from a real redis-server."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from router.classify.types import Sensitivity, Task
from router.cli import main as junction
from router.settings import StatsSettings
from router.stats.records import ClassificationSummary
from router.stats.redis_store import RedisStatsStore
from tests.unit.stats.builders import FakeClock, make_record

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
async def client(redis_url: str, anyio_backend: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def test_export_writes_records_with_feedback_and_never_sensitive_ones(
    client: Redis, redis_url: str, tmp_path: Path
) -> None:
    settings = StatsSettings(key_prefix=f"test-{uuid.uuid4().hex[:8]}", background_timeout_s=0.5)
    clock = FakeClock(time.time())  # feedback checks the record's age against the real time
    store = RedisStatsStore(settings, client, {}, request_timeout_s=0.5, clock=clock)
    secret = ClassificationSummary(task=Task.CHAT, difficulty=0.1, sensitivity=Sensitivity.PII)
    store.record(make_record("plain", prompt="What is 2+2?", time=clock.now))
    store.record(make_record("private", prompt="my IBAN", classification=secret, time=clock.now))
    store.record(make_record("silent", prompt="Name a prime", time=clock.now))
    assert await store.flush()
    await store.quality_book.add_feedback("plain", 1.0)
    await store.quality_book.add_feedback("plain", 0.5, source="judge")
    out = tmp_path / "records.jsonl"
    # The command runs its own event loop, as it does from a shell.
    argv = ["records", "export", "--redis-url", redis_url, "--prefix", settings.key_prefix,
            "--out", str(out)]
    assert await asyncio.to_thread(junction, argv) == 0
    lines = {json.loads(line)["record"]["request_id"]: json.loads(line)
             for line in out.read_text().splitlines()}
    assert set(lines) == {"plain", "silent"}
    assert lines["plain"]["feedback"] == {"user": 1.0, "judge": 0.5}
    assert lines["plain"]["record"]["prompt"] == "What is 2+2?"
    assert lines["silent"]["feedback"] == {}


def test_export_from_an_unreachable_redis_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert junction(["records", "export", "--redis-url", "redis://127.0.0.1:1",
                     "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "cannot read records from Redis at redis://127.0.0.1:1" in capsys.readouterr().err
