"""The storage seam: `AccountStore` is what `AccessService` needs from memory or Redis.

Every request-path operation is one atomic step (one Lua script in Redis, one uninterrupted
block of Python in memory), so replicas sharing a Redis see budgets and rates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Protocol

from router.accounts.models import Counter, CounterState, KeyRecord, TeamRecord
from router.accounts.ratelimits import RateRule


class StoreFailure(Enum):
    """Why the store did not answer: the two call for different fixes, so they read apart."""

    TIMEOUT = "timeout"  # no answer (or no free connection) within the wait
    UNREACHABLE = "unreachable"  # connection refused, reset or closed


class StoreUnavailable(Exception):
    """The store could not answer: Redis down, refused, or slower than the timeout."""

    def __init__(self, failure: StoreFailure, detail: str, *, waited_ms: float) -> None:
        self.failure = failure
        self.detail = detail
        self.waited_ms = waited_ms
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """A sentence fragment for error messages, e.g. "timed out waiting for Redis (1000 ms)"."""
        if self.failure is StoreFailure.TIMEOUT:
            return f"timed out waiting for Redis ({self.waited_ms:.0f} ms{self._detail()})"
        return f"Redis is unreachable ({self.detail})"

    @property
    def sentence_start(self) -> str:
        """`reason` capitalised, to open an error message."""
        return self.reason[:1].upper() + self.reason[1:]

    def _detail(self) -> str:
        return f"; {self.detail}" if self.detail else ""


class ReserveStatus(IntEnum):
    """What a reserve call did; the values are the Lua script's return codes."""

    REJECTED = 0
    RESERVED = 1
    ALREADY_FINISHED = 2
    ALREADY_RESERVED = 3


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """`rejected` and `state` name the first budget that could not take the amount."""

    status: ReserveStatus
    rejected: Counter | None = None
    state: CounterState | None = None


@dataclass(frozen=True, slots=True)
class RateOutcome:
    """`rule` is the limit that refused (the one with the longest wait), None if allowed."""

    rule: RateRule | None = None
    retry_after_us: int = 0


@dataclass(frozen=True, slots=True)
class AdmitOutcome:
    """Rate limits, then the reservation: `reserve` is None when a rate limit refused."""

    rate: RateOutcome
    reserve: ReserveOutcome | None


class AccountStore(Protocol):
    """Keys, teams, budget counters and rate-limit state, shared by every replica that uses it."""

    async def create_team(self, record: TeamRecord) -> bool:
        """Store a new team; False if the name is taken."""
        ...

    async def put_team(self, record: TeamRecord) -> None: ...

    async def get_team(self, name: str) -> TeamRecord | None: ...

    async def list_teams(self) -> list[TeamRecord]: ...

    async def create_key(self, record: KeyRecord) -> bool:
        """Store a new key; False if the key id is taken."""
        ...

    async def put_key(self, record: KeyRecord) -> None: ...

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self) -> list[KeyRecord]: ...

    async def get_key_and_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]:
        """A key and the team it names, read together (authentication's one round trip)."""
        ...

    async def hit(self, rules: Sequence[RateRule]) -> RateOutcome:
        """Count one request against every rule, or against none if any rule refuses."""
        ...

    async def reserve(
        self, reservation_id: str, amount_micro: int, counters: Sequence[Counter], ttl_s: float
    ) -> ReserveOutcome:
        """Set `amount_micro` aside on every counter, or on none if one would go over its limit.

        A reservation unsettled after `ttl_s` is dropped (its replica is presumed dead).
        """
        ...

    async def admit(
        self,
        rules: Sequence[RateRule],
        reservation_id: str,
        amount_micro: int,
        counters: Sequence[Counter],
        ttl_s: float,
    ) -> AdmitOutcome:
        """`hit(rules)` and, if it allows, `reserve(...)`, as one atomic step (one round trip).

        A reservation refused by its budget still counts against the rate limits, as two
        separate calls would."""
        ...

    async def finish(
        self,
        reservation_id: str,
        counters: Sequence[Counter],
        actual_micro: int,
        marker_ttl_s: float,
    ) -> bool:
        """Drop the reservation and add `actual_micro` (0 for a release) to the spend.

        Idempotent: only the first finish of an id counts (False afterwards), and a later
        reserve under that id is refused, which closes the race with a cancelled reserve.
        """
        ...

    async def read(self, counters: Sequence[Counter]) -> list[CounterState]:
        """Each counter's spend and live reservations (expired ones dropped first)."""
        ...
