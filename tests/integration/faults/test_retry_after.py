"""An upstream's Retry-After on 429/503 keeps its model's circuit open that long (bounded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.integration.faults.conftest import GatewayFactory, ask
from tests.integration.faults.hostile import Hostile, raw

BUSY = b'{"error": {"message": "slow down", "type": "rate_limit_error"}}'


def _in_two_minutes() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_opens_the_circuit_for_that_model(
    hostile: Hostile, gateway_for: GatewayFactory, status: int, form: str
) -> None:
    value = "120" if form == "seconds" else _in_two_minutes()
    hostile.play(raw(status, BUSY, {"retry-after": value}))
    # A threshold of 3: one failure alone would not open the circuit; Retry-After does.
    with gateway_for() as gw:
        first = ask(gw)
        assert first.headers["x-junction-attempts"] == f"hostile:{status},backup:ok"
        second = ask(gw)
        assert second.headers["x-junction-attempts"] == "backup:ok"
        reason = gw.app.state.breakers.blocked_reason("hostile")
    assert len(hostile.seen) == 1
    assert "Retry-After" in reason
    left = float(reason.split("after ")[1].split("s")[0])
    assert 100 < left <= 120


def test_retry_after_is_bounded(hostile: Hostile, gateway_for: GatewayFactory) -> None:
    hostile.play(raw(429, BUSY, {"retry-after": "86400"}))
    with gateway_for(breaker={"failure_threshold": 3, "cooldown_s": 60,
                              "max_retry_after_s": 30}) as gw:
        ask(gw)
        reason = gw.app.state.breakers.blocked_reason("hostile")
    assert 0 < float(reason.split("after ")[1].split("s")[0]) <= 30
