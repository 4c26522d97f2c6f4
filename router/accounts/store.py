"""The storage seam: `AccountStore` is what `AccessService` needs from memory or Redis.

Every request-path operation is one atomic step (one Lua script in Redis, one uninterrupted
block of Python in memory), so replicas sharing a Redis see budgets and rates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from router.accounts.models import Counter, CounterState, KeyRecord, TeamRecord
from router.accounts.ratelimits import RateRule


class StoreUnavailable(Exception):
    """The store could not answer in time (Redis down, refused or slower than the timeout)."""


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
