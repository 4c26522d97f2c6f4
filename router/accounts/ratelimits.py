"""Rate-limit rules, independent of storage: requests and tokens per minute per key and team.

The stores enforce them with GCRA (a token bucket kept as one "theoretical arrival time"
per rule): a full minute's allowance may arrive in a burst, after which it refills evenly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from router.accounts.models import Limits, Principal, Scope
from router.errors import RateLimited

PERIOD_US = 60_000_000
"""The window every limit is expressed over (one minute), in microseconds."""


class Unit(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"


@dataclass(frozen=True, slots=True)
class RateRule:
    """One limit applied to one request: `cost` units against `limit_per_minute`."""

    scope: Scope
    owner: str
    unit: Unit
    limit_per_minute: int
    cost: int

    @property
    def name(self) -> str:
        return f"{self.scope.value}:{self.owner}:{'rpm' if self.unit is Unit.REQUESTS else 'tpm'}"

    @property
    def label(self) -> str:
        return f"{self.scope.value} '{self.owner}' {self.unit.value}-per-minute limit"

    @property
    def increment_us(self) -> int:
        """How far this request pushes the arrival time; rounded up to stay strict."""
        return math.ceil(self.cost * PERIOD_US / self.limit_per_minute)


def rules_for(principal: Principal, tokens: int) -> tuple[RateRule, ...]:
    rules: list[RateRule] = []
    if principal.key_id is not None:
        rules += _scope_rules(Scope.KEY, principal.key_id, principal.key_limits, tokens)
    if principal.team is not None:
        rules += _scope_rules(Scope.TEAM, principal.team, principal.team_limits, tokens)
    return tuple(rules)


def _scope_rules(scope: Scope, owner: str, limits: Limits | None, tokens: int) -> list[RateRule]:
    if limits is None:
        return []
    rules = []
    if limits.requests_per_minute is not None:
        rules.append(RateRule(scope, owner, Unit.REQUESTS, limits.requests_per_minute, 1))
    if limits.tokens_per_minute is not None and tokens > 0:
        rules.append(RateRule(scope, owner, Unit.TOKENS, limits.tokens_per_minute, tokens))
    return rules


def too_large(rule: RateRule) -> RateLimited:
    """A request bigger than a whole minute's allowance can never pass: say so, no retry."""
    return RateLimited(
        f"This request needs {rule.cost} {rule.unit.value} but the {rule.label} is "
        f"{rule.limit_per_minute}; lower max_tokens or shorten the prompt.",
        details={"limit": {"rule": rule.name, "limit_per_minute": rule.limit_per_minute}},
    )


def rate_limited(rule: RateRule, retry_after_us: int) -> RateLimited:
    retry_after_s = max(1, math.ceil(retry_after_us / 1_000_000))
    return RateLimited(
        f"The {rule.label} ({rule.limit_per_minute}) is reached; retry in {retry_after_s} s.",
        headers={"Retry-After": str(retry_after_s)},
        details={"limit": {"rule": rule.name, "limit_per_minute": rule.limit_per_minute}},
    )
