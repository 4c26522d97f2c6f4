import pytest

from router.classify.types import Task
from router.settings import StatsSettings
from router.stats.memory import MemoryStatsStore
from router.stats.records import Attempt
from router.stats.window import ModelStats, contributions
from tests.unit.stats.builders import FakeClock, make_record

SETTINGS = StatsSettings(window_s=300, bucket_s=60)


def store_with_clock() -> tuple[MemoryStatsStore, FakeClock]:
    clock = FakeClock()
    return MemoryStatsStore(SETTINGS, {}, clock=clock), clock


def attempt(model: str, outcome: str) -> Attempt:
    return Attempt(model=model, endpoint="e", outcome=outcome, duration_ms=10)


def test_unseen_pair_is_empty() -> None:
    store, _ = store_with_clock()
    stats = store.snapshot("code", "nobody")
    assert stats == ModelStats()
    assert stats.error_rate == 0.0


def test_counts_means_and_percentiles() -> None:
    store, _ = store_with_clock()
    for i, total in enumerate([100.0, 200.0, 300.0, 400.0]):
        store.record(make_record(f"r{i}", total_ms=total, ttft_ms=total / 4, cost_usd=0.01))
    stats = store.snapshot(Task.CODE, "local/qwen")
    assert (stats.requests, stats.errors, stats.answered) == (4, 0, 4)
    assert stats.mean_tokens_out == 200
    assert stats.mean_cost_usd == pytest.approx(0.01)
    assert stats.total_p50_ms is not None and 210 <= stats.total_p50_ms <= 290
    assert stats.ttft_p95_ms is not None and 80 <= stats.ttft_p95_ms <= 110


def test_snapshot_accepts_task_enum_or_string() -> None:
    store, _ = store_with_clock()
    store.record(make_record())
    assert store.snapshot(Task.CODE, "local/qwen") == store.snapshot("code", "local/qwen")


def test_window_slides_out_old_buckets() -> None:
    store, clock = store_with_clock()
    store.record(make_record("old"))
    clock.advance(180)
    store.record(make_record("new"))
    assert store.snapshot("code", "local/qwen").requests == 2
    clock.advance(150)  # the first record's bucket is now more than 300 s back
    assert store.snapshot("code", "local/qwen").requests == 1
    clock.advance(300)
    assert store.snapshot("code", "local/qwen").requests == 0


def test_snapshot_cache_sees_new_records_within_half_a_second() -> None:
    store, clock = store_with_clock()
    store.record(make_record("a"))
    assert store.snapshot("code", "local/qwen").requests == 1
    store.record(make_record("b"))
    # a summary is reused for up to 0.5 s so steady traffic does not recompute it per request
    assert store.snapshot("code", "local/qwen").requests == 1
    clock.advance(0.5)
    assert store.snapshot("code", "local/qwen").requests == 2


def test_failover_charges_each_model_its_own_attempts() -> None:
    rec = make_record(
        model="api/gpt",
        attempts=[
            attempt("local/qwen", "503"),
            attempt("local/qwen", "timeout"),
            attempt("api/claude", "circuit_open"),
            attempt("api/gpt", "ok"),
        ],
    )
    by_model = {c.model: c for c in contributions(rec)}
    assert set(by_model) == {"local/qwen", "api/gpt"}  # an open breaker is not an attempt
    assert (by_model["local/qwen"].attempts, by_model["local/qwen"].errors) == (2, 2)
    assert by_model["local/qwen"].answered == 0
    assert by_model["local/qwen"].total_ms is None
    assert (by_model["api/gpt"].attempts, by_model["api/gpt"].answered) == (1, 1)
    assert by_model["api/gpt"].tokens_out == 200


@pytest.mark.parametrize(
    ("outcome", "is_failure"),
    [
        ("ok", False),
        ("400", False),
        ("422", False),
        ("408", True),
        ("429", True),
        ("500", True),
        ("503", True),
        ("timeout", True),
        ("connect_error", True),
        ("circuit_open", False),
    ],
)
def test_which_outcomes_count_against_the_model(outcome: str, is_failure: bool) -> None:
    assert attempt("m", outcome).is_failure is is_failure


def test_error_rate_and_unanswered_request() -> None:
    store, _ = store_with_clock()
    store.record(make_record("ok"))
    store.record(make_record("bad", answered=False, attempts=[attempt("local/qwen", "503")]))
    stats = store.snapshot("code", "local/qwen")
    assert (stats.requests, stats.errors, stats.answered) == (2, 1, 1)
    assert stats.error_rate == 0.5
    assert stats.mean_tokens_in == 50


def test_answer_without_recorded_attempt_counts_once() -> None:
    store, _ = store_with_clock()
    store.record(make_record(attempts=[]))
    assert store.snapshot("code", "local/qwen").requests == 1


@pytest.mark.anyio
async def test_records_are_kept_for_the_retention_and_bounded() -> None:
    clock = FakeClock()
    settings = StatsSettings(memory_max_records=2, record_retention_s=3_600)
    store = MemoryStatsStore(settings, {}, clock=clock)
    for name in ("a", "b", "c"):
        store.record(make_record(name, time=clock.now))
    assert await store.get_record("a") is None  # least recent beyond the bound
    assert (await store.get_record("c")) == make_record("c", time=clock.now)
    clock.advance(3_601)
    assert await store.get_record("c") is None


def test_window_must_hold_whole_buckets() -> None:
    with pytest.raises(ValueError, match="multiple"):
        StatsSettings(window_s=90, bucket_s=60)
