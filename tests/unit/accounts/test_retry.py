"""`FinishRetrier` on its own: a finish function the test scripts, no store."""

from __future__ import annotations

import asyncio

from router.accounts.models import Reservation
from router.accounts.retry import FinishRetrier, RetryPolicy
from router.accounts.store import StoreFailure, StoreUnavailable

QUICK = RetryPolicy(attempts=5, backoff_s=0.001, max_backoff_s=0.001, capacity=10)


def down() -> StoreUnavailable:
    return StoreUnavailable(StoreFailure.UNREACHABLE, "connection refused", waited_ms=1)


def test_a_settle_queued_behind_a_release_of_the_same_id_keeps_its_amount() -> None:
    applied: list[tuple[str, int]] = []
    outage = [True]

    async def finish(reservation: Reservation, actual_micro: int) -> bool:
        if outage[0]:
            raise down()
        applied.append((reservation.reservation_id, actual_micro))
        return True

    async def scenario() -> None:
        retrier = FinishRetrier(finish, QUICK)
        r = Reservation("r1", 100, ())
        retrier.submit(r, 40)
        retrier.submit(r, 0)  # the release that follows a failed settle
        assert retrier.pending == 1
        outage[0] = False
        await retrier.wait_idle()

    asyncio.run(scenario())
    assert applied == [("r1", 40)]


def test_an_error_that_is_not_an_outage_is_dropped_and_the_rest_still_land() -> None:
    applied: list[str] = []
    dropped: list[str] = []

    async def finish(reservation: Reservation, actual_micro: int) -> bool:
        if reservation.reservation_id == "broken":
            raise ValueError("corrupt record")
        applied.append(reservation.reservation_id)
        return True

    async def scenario() -> None:
        retrier = FinishRetrier(finish, QUICK, dropped.append)
        retrier.submit(Reservation("broken", 1, ()), 1)
        retrier.submit(Reservation("fine", 1, ()), 1)
        await retrier.wait_idle()
        assert retrier.pending == 0

    asyncio.run(scenario())
    assert dropped == ["error"] and applied == ["fine"]


def test_the_default_retry_window_is_about_three_minutes() -> None:
    from router.accounts.service import _MAX_RETRY_BACKOFF_S
    from router.settings import AccountsSettings

    defaults = AccountsSettings()
    policy = RetryPolicy(attempts=defaults.settle_retry_attempts,
                         backoff_s=defaults.settle_retry_backoff_s,
                         max_backoff_s=_MAX_RETRY_BACKOFF_S, capacity=1)
    window = sum(policy.delay(i) for i in range(policy.attempts))
    assert 150 <= window <= 210  # the README's "about 3 min"
    assert policy.delay(policy.attempts) == 30.0  # capped
