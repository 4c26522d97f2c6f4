import math

import pytest

from router.errors import InvalidRequest, NotFound
from router.settings import StatsSettings
from router.stats.beta import beta_cdf, beta_quantile
from router.stats.memory import MemoryStatsStore
from router.stats.quality import QualityBook
from tests.unit.stats.builders import FakeClock, make_record

PRIORS = {"code": {"local/qwen": 0.7, "api/gpt": 0.9}}


@pytest.mark.parametrize(
    ("p", "a", "b", "expected"),
    [
        (0.05, 1.0, 1.0, 0.05),
        (0.95, 1.0, 1.0, 0.95),
        (0.05, 2.0, 1.0, math.sqrt(0.05)),  # CDF x^2
        (0.95, 1.0, 2.0, 1.0 - math.sqrt(0.05)),  # CDF 1-(1-x)^2
        (0.5, 5.0, 5.0, 0.5),
    ],
)
def test_beta_quantile_known_values(p: float, a: float, b: float, expected: float) -> None:
    assert beta_quantile(p, a, b) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (3.0, 7.0), (70.0, 30.0), (800.0, 3.0)])
def test_beta_quantile_inverts_the_cdf(a: float, b: float) -> None:
    for p in (0.05, 0.5, 0.95):
        assert beta_cdf(beta_quantile(p, a, b), a, b) == pytest.approx(p, abs=1e-9)


@pytest.mark.parametrize("a", [0.001, 0.3, 1.0, 7.0, 300.0, 5_000.0])
@pytest.mark.parametrize("b", [0.001, 0.3, 1.0, 3.0, 300.0, 5_000.0])
def test_beta_quantile_matches_plain_bisection(a: float, b: float) -> None:
    for p in (0.001, 0.05, 0.5, 0.95, 0.999):
        low, high = 0.0, 1.0
        for _ in range(80):
            mid = (low + high) / 2
            low, high = (mid, high) if beta_cdf(mid, a, b) < p else (low, mid)
        assert beta_quantile(p, a, b) == pytest.approx(low, abs=1e-11)


def book_with_store() -> tuple[QualityBook, MemoryStatsStore, FakeClock]:
    clock = FakeClock()
    store = MemoryStatsStore(StatsSettings(prior_strength=10.0), PRIORS, clock=clock)
    return store.quality_book, store, clock


def test_prior_only_estimate() -> None:
    book, _, _ = book_with_store()
    estimate = book.quality("code", "local/qwen")
    assert estimate.mean == pytest.approx(0.7)
    assert estimate.n == 0
    assert estimate.confidence == 0.0
    assert estimate.lower == pytest.approx(beta_quantile(0.05, 7.0, 3.0))
    assert estimate.upper == pytest.approx(beta_quantile(0.95, 7.0, 3.0))
    assert book.quality("chat", "unknown").mean == pytest.approx(0.5)


@pytest.mark.anyio
async def test_feedback_moves_the_posterior_of_the_answering_model() -> None:
    book, store, _ = book_with_store()
    store.record(make_record("r1", model="local/qwen"))
    before = book.quality("code", "local/qwen")
    after = await book.add_feedback("r1", 0.0)
    # Beta(7, 3) + one thumbs down = Beta(7, 4)
    assert after.mean == pytest.approx(7 / 11)
    assert after.n == 1
    assert after.confidence == pytest.approx(1 / 11)
    assert after.upper < before.upper
    assert after.lower <= after.mean <= after.upper
    assert book.quality("code", "local/qwen") == after
    assert book.quality("code", "api/gpt").n == 0


@pytest.mark.anyio
async def test_many_votes_narrow_the_interval_towards_the_data() -> None:
    book, store, _ = book_with_store()
    for i in range(200):
        store.record(make_record(f"r{i}", model="api/gpt"))
        await book.add_feedback(f"r{i}", 1.0 if i % 4 else 0.0)  # 75% good
    estimate = book.quality("code", "api/gpt")
    assert estimate.n == 200
    assert estimate.mean == pytest.approx((9 + 150) / 210)
    assert estimate.upper - estimate.lower < 0.11
    assert estimate.confidence == pytest.approx(200 / 210)


@pytest.mark.anyio
async def test_last_vote_per_request_wins_and_retries_are_idempotent() -> None:
    book, store, _ = book_with_store()
    store.record(make_record("r1"))
    await book.add_feedback("r1", 1.0)
    await book.add_feedback("r1", 1.0)  # a retry changes nothing
    assert book.quality("code", "local/qwen").mean == pytest.approx(8 / 11)
    flipped = await book.add_feedback("r1", 0.0)  # changed their mind
    assert flipped.mean == pytest.approx(7 / 11)
    assert flipped.n == 1


@pytest.mark.anyio
async def test_judge_and_user_both_count_with_their_weights() -> None:
    book, store, _ = book_with_store()
    store.record(make_record("r1"))
    await book.add_feedback("r1", 1.0)
    estimate = await book.add_feedback("r1", 0.0, source="judge")  # judge_weight 0.5
    assert estimate.n == 2
    assert estimate.mean == pytest.approx(8 / 11.5)


@pytest.mark.anyio
async def test_unknown_request_is_not_found() -> None:
    book, _, _ = book_with_store()
    with pytest.raises(NotFound) as caught:
        await book.add_feedback("missing", 1.0)
    assert "missing" in caught.value.message


@pytest.mark.anyio
@pytest.mark.parametrize("score", [-0.1, 1.5, math.nan, math.inf])
async def test_score_outside_unit_interval_is_rejected(score: float) -> None:
    book, store, _ = book_with_store()
    store.record(make_record("r1"))
    with pytest.raises(InvalidRequest) as caught:
        await book.add_feedback("r1", score)
    assert caught.value.param == "score"


@pytest.mark.anyio
async def test_unanswered_request_cannot_be_rated() -> None:
    book, store, _ = book_with_store()
    store.record(make_record("r1", answered=False))
    with pytest.raises(InvalidRequest) as caught:
        await book.add_feedback("r1", 1.0)
    assert caught.value.param == "request_id"


def test_priors_outside_unit_interval_are_refused() -> None:
    with pytest.raises(ValueError, match="'code', model 'm'"):
        MemoryStatsStore(StatsSettings(), {"code": {"m": 1.2}})


def test_extreme_priors_still_give_a_valid_estimate() -> None:
    store = MemoryStatsStore(StatsSettings(), {"code": {"perfect": 1.0}})
    estimate = store.quality_book.quality("code", "perfect")
    assert 0.99 < estimate.mean <= 1.0
    assert estimate.lower <= estimate.upper
