from __future__ import annotations

from datetime import datetime

import pytest

from router.accounts.models import Window
from router.accounts.periods import period_of, reset_of


@pytest.mark.parametrize(
    ("instant", "window", "period", "reset"),
    [
        ("2025-01-31T23:59:59.999+00:00", Window.DAY, "2025-01-31", "2025-02-01T00:00:00+00:00"),
        ("2025-02-01T00:00:00+00:00", Window.DAY, "2025-02-01", "2025-02-02T00:00:00+00:00"),
        ("2025-01-31T23:59:59+00:00", Window.MONTH, "2025-01", "2025-02-01T00:00:00+00:00"),
        ("2024-02-29T12:00:00+00:00", Window.DAY, "2024-02-29", "2024-03-01T00:00:00+00:00"),
        ("2024-02-29T12:00:00+00:00", Window.MONTH, "2024-02", "2024-03-01T00:00:00+00:00"),
        ("2025-12-31T23:00:00+00:00", Window.MONTH, "2025-12", "2026-01-01T00:00:00+00:00"),
        ("2025-12-31T23:00:00+00:00", Window.DAY, "2025-12-31", "2026-01-01T00:00:00+00:00"),
        # Calendar periods are UTC whatever the caller's zone: 01:30 in Paris is still Jan 31.
        ("2025-02-01T01:30:00+02:00", Window.DAY, "2025-01-31", "2025-02-01T00:00:00+00:00"),
    ],
)
def test_periods_are_calendar_utc(instant: str, window: Window, period: str, reset: str) -> None:
    now = datetime.fromisoformat(instant)
    assert period_of(window, now) == period
    assert reset_of(window, now) == datetime.fromisoformat(reset)
