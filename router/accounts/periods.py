"""Calendar budget periods in UTC: which day or month a moment falls in, and when it resets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from router.accounts.models import Window

Clock = Callable[[], float]
"""Seconds since the epoch, like `time.time`; injectable so tests can cross midnight."""

# Counters outlive their period so the spend report can still read a period that just ended.
COUNTER_TTL_S = {Window.DAY: 40 * 86_400, Window.MONTH: 400 * 86_400}


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def period_of(window: Window, now: datetime) -> str:
    """The period's id: "2025-01-31" for a day, "2025-01" for a month."""
    now = now.astimezone(UTC)
    return now.strftime("%Y-%m-%d") if window is Window.DAY else now.strftime("%Y-%m")


def reset_of(window: Window, now: datetime) -> datetime:
    """The first instant of the next period (UTC midnight, or the 1st of next month)."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window is Window.DAY:
        return midnight + timedelta(days=1)
    first = midnight.replace(day=1)
    if first.month == 12:
        return first.replace(year=first.year + 1, month=1)
    return first.replace(month=first.month + 1)
