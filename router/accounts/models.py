"""The accounts vocabulary: stored records (pydantic, they are Redis payloads) and the frozen
values the request path passes around (`Principal`, `Reservation`, `BudgetStatus`).

Money inside the accounts package is integer micro-dollars (`*_micro`), so Redis counters stay
exact; the public surface speaks dollars (`*_usd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from router.classify.types import Sensitivity

MICROS_PER_USD = 1_000_000
TEAM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
KEY_ID_PATTERN = r"^[a-z2-7]{8}$"


def usd_to_micro(usd: float, *, round_up: bool = False) -> int:
    """Dollars to integer micro-dollars; reservations round up so they never under-reserve."""
    scaled = usd * MICROS_PER_USD
    return math.ceil(scaled - 1e-6) if round_up else round(scaled)


def micro_to_usd(micro: int) -> float:
    return micro / MICROS_PER_USD


def format_usd(usd: float) -> str:
    """Dollars for messages: cents always, micro-dollars only when they matter ($0.000125)."""
    text = f"{usd:.6f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


class Limits(BaseModel):
    """Budgets (dollars, calendar UTC day and month) and rate limits (per minute) of a key or
    a team; `None` means unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    daily_usd: float | None = Field(None, ge=0, description="Spend allowed per UTC day.")
    monthly_usd: float | None = Field(None, ge=0, description="Spend allowed per UTC month.")
    max_cost_per_request_usd: float | None = Field(
        None, gt=0, description="Largest cost one request may reserve."
    )
    soft_limit_ratio: float = Field(
        0.8, gt=0, le=1, description="Share of a budget above which it is soft-exceeded."
    )
    requests_per_minute: int | None = Field(None, ge=1, description="Requests per minute.")
    tokens_per_minute: int | None = Field(None, ge=1, description="Tokens per minute.")


class TeamRecord(BaseModel):
    """A team as stored: what its keys may use, its sensitivity floor and its limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=TEAM_NAME_PATTERN)
    allowed_models: tuple[str, ...] | None = None
    allowed_routes: tuple[str, ...] | None = None
    default_sensitivity: Sensitivity = Sensitivity.NONE
    limits: Limits = Limits()
    created_at: datetime
    updated_at: datetime


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class KeyRecord(BaseModel):
    """An API key as stored: only the hash of its secret, never the secret itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(pattern=KEY_ID_PATTERN)
    key_hash: str
    team: str = Field(pattern=TEAM_NAME_PATTERN)
    name: str | None = None
    allowed_models: tuple[str, ...] | None = None
    allowed_routes: tuple[str, ...] | None = None
    default_sensitivity: Sensitivity | None = None
    limits: Limits = Limits()
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """The visible start of the secret (`jk-<key_id>`), safe to list and log."""
        return f"jk-{self.key_id}"

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE


class Scope(StrEnum):
    KEY = "key"
    TEAM = "team"


class Window(StrEnum):
    DAY = "day"
    MONTH = "month"

    @property
    def adjective(self) -> str:
        return "daily" if self is Window.DAY else "monthly"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the request path sees it: the key's and its team's rules merged."""

    key_id: str | None
    key_prefix: str | None
    team: str | None
    allowed_models: frozenset[str] | None
    allowed_routes: frozenset[str] | None
    default_sensitivity: Sensitivity
    max_cost_per_request: float | None
    anonymous: bool
    key_limits: Limits | None = None
    team_limits: Limits | None = None

    @property
    def metered(self) -> bool:
        """Whether spend and rate are counted for this caller (anonymous: only via a team)."""
        return self.key_id is not None or self.team is not None

    def allows_model(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


@dataclass(frozen=True, slots=True)
class Counter:
    """One budget counter: a scope's spend in one calendar period, with its limits."""

    scope: Scope
    owner: str
    window: Window
    period: str
    limit_micro: int | None
    soft_micro: int | None
    reset_at: datetime
    ttl_s: int

    @property
    def name(self) -> str:
        return f"{self.scope.value}:{self.owner}:{self.window.value}:{self.period}"

    @property
    def label(self) -> str:
        """Names the budget in messages: "team 'acme' daily budget"."""
        return f"{self.scope.value} '{self.owner}' {self.window.adjective} budget"


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one request until it is settled or released.

    `enforced` is False when Redis was unreachable and budgets fail open: nothing was
    reserved, and settling only records the spend if Redis is back.
    """

    reservation_id: str
    amount_micro: int
    counters: tuple[Counter, ...]
    enforced: bool = True


@dataclass(frozen=True, slots=True)
class CounterState:
    """A counter's settled spend and its live (unexpired) reservations."""

    spent_micro: int
    reserved_micro: int


@dataclass(frozen=True, slots=True)
class BudgetLine:
    """One budget as reported: what is spent, what is reserved, the limits and the reset."""

    scope: Scope
    owner: str
    window: Window
    period: str
    spent_usd: float
    reserved_usd: float
    limit_usd: float | None
    soft_limit_usd: float | None
    reset_at: datetime

    @property
    def label(self) -> str:
        return f"{self.scope.value} '{self.owner}' {self.window.adjective} budget"

    @property
    def soft_exceeded(self) -> bool:
        used = self.spent_usd + self.reserved_usd
        return self.soft_limit_usd is not None and used >= self.soft_limit_usd

    @property
    def hard_exceeded(self) -> bool:
        used = self.spent_usd + self.reserved_usd
        return self.limit_usd is not None and used >= self.limit_usd


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a principal stands against all its budgets.

    `soft_exceeded` lets policy downgrade to the local model before the hard limit refuses;
    `which` and `reset_at` name the most pressing budget (a hard one before a soft one).
    """

    soft_exceeded: bool
    hard_exceeded: bool
    which: str | None
    reset_at: datetime | None
    lines: tuple[BudgetLine, ...] = ()
    enforced: bool = True

    @property
    def used_share(self) -> float | None:
        """The largest share of any limited budget spent or reserved, 0..1 (None: no limit)."""
        shares = [1.0 if not line.limit_usd  # a zero limit is spent from the start
                  else (line.spent_usd + line.reserved_usd) / line.limit_usd
                  for line in self.lines if line.limit_usd is not None]
        return min(max(max(shares), 0.0), 1.0) if shares else None


@dataclass(frozen=True, slots=True)
class SpendReport:
    """A key's or a team's spend in the current UTC day and month."""

    scope: Scope
    owner: str
    lines: tuple[BudgetLine, ...]
