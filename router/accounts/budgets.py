"""Budget rules, independent of storage: which counters a request touches, how a counter's
state reads as a report, and the 429 a full budget answers with."""

from __future__ import annotations

import math
from datetime import datetime

from router.accounts.models import (
    BudgetLine,
    BudgetStatus,
    Counter,
    CounterState,
    Limits,
    Principal,
    Scope,
    Window,
    format_usd,
    micro_to_usd,
    usd_to_micro,
)
from router.accounts.periods import COUNTER_TTL_S, period_of, reset_of
from router.errors import RateLimited


def counters_for(principal: Principal, now: datetime) -> tuple[Counter, ...]:
    """The day and month counters of the principal's key and team (unlimited ones too, so
    spend is always recorded)."""
    counters: list[Counter] = []
    if principal.key_id is not None:
        counters += scope_counters(Scope.KEY, principal.key_id, principal.key_limits, now)
    if principal.team is not None:
        counters += scope_counters(Scope.TEAM, principal.team, principal.team_limits, now)
    return tuple(counters)


def scope_counters(
    scope: Scope, owner: str, limits: Limits | None, now: datetime
) -> tuple[Counter, ...]:
    limits = limits or Limits()
    budgets = {Window.DAY: limits.daily_usd, Window.MONTH: limits.monthly_usd}
    counters = []
    for window, limit_usd in budgets.items():
        limit_micro = None if limit_usd is None else usd_to_micro(limit_usd)
        soft_micro = (
            None if limit_micro is None else math.floor(limit_micro * limits.soft_limit_ratio)
        )
        counters.append(
            Counter(
                scope=scope,
                owner=owner,
                window=window,
                period=period_of(window, now),
                limit_micro=limit_micro,
                soft_micro=soft_micro,
                reset_at=reset_of(window, now),
                ttl_s=COUNTER_TTL_S[window],
            )
        )
    return tuple(counters)


def budget_line(counter: Counter, state: CounterState) -> BudgetLine:
    return BudgetLine(
        scope=counter.scope,
        owner=counter.owner,
        window=counter.window,
        period=counter.period,
        spent_usd=micro_to_usd(state.spent_micro),
        reserved_usd=micro_to_usd(state.reserved_micro),
        limit_usd=None if counter.limit_micro is None else micro_to_usd(counter.limit_micro),
        soft_limit_usd=None if counter.soft_micro is None else micro_to_usd(counter.soft_micro),
        reset_at=counter.reset_at,
    )


def status_of(lines: tuple[BudgetLine, ...]) -> BudgetStatus:
    """Summarise budget lines: the first hard-exceeded budget wins, then the first soft one."""
    hard = [line for line in lines if line.hard_exceeded]
    soft = [line for line in lines if line.soft_exceeded]
    pressing = hard[0] if hard else soft[0] if soft else None
    return BudgetStatus(
        soft_exceeded=bool(soft),
        hard_exceeded=bool(hard),
        which=None if pressing is None else pressing.label,
        reset_at=None if pressing is None else pressing.reset_at,
        lines=lines,
    )


def budget_exceeded(
    counter: Counter, state: CounterState, amount_micro: int, now: datetime
) -> RateLimited:
    """The 429 for a reservation that does not fit: names the budget, the numbers, the reset."""
    limit = micro_to_usd(counter.limit_micro or 0)
    used = micro_to_usd(state.spent_micro + state.reserved_micro)
    retry_after = max(1, math.ceil((counter.reset_at - now).total_seconds()))
    return RateLimited(
        f"The {counter.label} is exhausted: {format_usd(used)} of {format_usd(limit)} spent or "
        f"reserved, and this request may cost up to {format_usd(micro_to_usd(amount_micro))}. "
        f"It resets at {counter.reset_at.isoformat()}.",
        code="budget_exceeded",
        headers={"Retry-After": str(retry_after)},
        details={
            "budget": {
                "scope": counter.scope.value,
                "owner": counter.owner,
                "window": counter.window.value,
                "period": counter.period,
                "limit_usd": limit,
                "used_usd": used,
                "reset_at": counter.reset_at.isoformat(),
            }
        },
    )
