"""`AccountStore` in process memory: the embedded default for a single replica.

The same algorithms as the Lua scripts, in Python; each method runs without awaiting in the
middle, so it is atomic on the event loop just as a script is atomic in Redis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from router.accounts.models import Counter, CounterState, KeyRecord, TeamRecord
from router.accounts.periods import Clock
from router.accounts.ratelimits import PERIOD_US, RateRule
from router.accounts.store import AdmitOutcome, RateOutcome, ReserveOutcome, ReserveStatus


@dataclass
class _Budget:
    spent: int = 0
    # reservation id -> (amount, expiry in clock seconds)
    live: dict[str, tuple[int, float]] = field(default_factory=dict)

    def purge(self, now: float) -> None:
        for rid in [rid for rid, (_, expiry) in self.live.items() if expiry <= now]:
            del self.live[rid]

    @property
    def reserved(self) -> int:
        return sum(amount for amount, _ in self.live.values())


class MemoryAccountStore:
    """Everything in dicts; time from the injected clock, so tests can move it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._teams: dict[str, TeamRecord] = {}
        self._keys: dict[str, KeyRecord] = {}
        self._budgets: dict[str, _Budget] = {}
        self._arrivals: dict[str, int] = {}  # rule name -> theoretical arrival time (us)
        self._done: dict[str, float] = {}  # reservation id -> marker expiry

    async def create_team(self, record: TeamRecord) -> bool:
        if record.name in self._teams:
            return False
        self._teams[record.name] = record
        return True

    async def put_team(self, record: TeamRecord) -> None:
        self._teams[record.name] = record

    async def get_team(self, name: str) -> TeamRecord | None:
        return self._teams.get(name)

    async def list_teams(self) -> list[TeamRecord]:
        return [self._teams[name] for name in sorted(self._teams)]

    async def create_key(self, record: KeyRecord) -> bool:
        if record.key_id in self._keys:
            return False
        self._keys[record.key_id] = record
        return True

    async def put_key(self, record: KeyRecord) -> None:
        self._keys[record.key_id] = record

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def list_keys(self) -> list[KeyRecord]:
        return [self._keys[key_id] for key_id in sorted(self._keys)]

    async def get_key_and_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]:
        key = self._keys.get(key_id)
        return key, None if key is None else self._teams.get(key.team)

    def seed_spend(self, spent: Mapping[str, int]) -> None:
        """Settled spend by counter name, restored from the database after a restart."""
        for name, amount in spent.items():
            budget = self._budgets.setdefault(name, _Budget())
            budget.spent = max(budget.spent, amount)

    async def hit(self, rules: Sequence[RateRule]) -> RateOutcome:
        now = round(self._clock() * 1_000_000)
        worst: tuple[int, RateRule] | None = None
        arrivals = []
        for rule in rules:
            arrival = max(self._arrivals.get(rule.name, 0), now) + rule.increment_us
            wait = arrival - PERIOD_US - now
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, rule)
            arrivals.append(arrival)
        if worst is not None:
            return RateOutcome(rule=worst[1], retry_after_us=worst[0])
        for rule, arrival in zip(rules, arrivals, strict=True):
            self._arrivals[rule.name] = arrival
        return RateOutcome()

    def _budget(self, counter: Counter, now: float) -> _Budget:
        budget = self._budgets.setdefault(counter.name, _Budget())
        budget.purge(now)
        return budget

    def _is_done(self, reservation_id: str, now: float) -> bool:
        expiry = self._done.get(reservation_id)
        if expiry is not None and expiry <= now:
            del self._done[reservation_id]
            return False
        return expiry is not None

    def _sweep_done(self, now: float) -> None:
        # Markers are inserted with one TTL, so the dict is in expiry order: drop from the front.
        while self._done:
            oldest = next(iter(self._done))
            if self._done[oldest] > now:
                break
            del self._done[oldest]

    async def reserve(
        self, reservation_id: str, amount_micro: int, counters: Sequence[Counter], ttl_s: float
    ) -> ReserveOutcome:
        now = self._clock()
        if self._is_done(reservation_id, now):
            return ReserveOutcome(ReserveStatus.ALREADY_FINISHED)
        budgets = [self._budget(counter, now) for counter in counters]
        if budgets and reservation_id in budgets[0].live:
            return ReserveOutcome(ReserveStatus.ALREADY_RESERVED)
        for counter, budget in zip(counters, budgets, strict=True):
            reserved = budget.reserved
            if (
                counter.limit_micro is not None
                and budget.spent + reserved + amount_micro > counter.limit_micro
            ):
                state = CounterState(budget.spent, reserved)
                return ReserveOutcome(ReserveStatus.REJECTED, counter, state)
        for budget in budgets:
            budget.live[reservation_id] = (amount_micro, now + ttl_s)
        return ReserveOutcome(ReserveStatus.RESERVED)

    async def admit(
        self,
        rules: Sequence[RateRule],
        reservation_id: str,
        amount_micro: int,
        counters: Sequence[Counter],
        ttl_s: float,
    ) -> AdmitOutcome:
        # Neither call awaits anything, so together they are still one step on the loop.
        rate = await self.hit(rules)
        if rate.rule is not None:
            return AdmitOutcome(rate, None)
        return AdmitOutcome(rate, await self.reserve(reservation_id, amount_micro, counters, ttl_s))

    async def finish(
        self,
        reservation_id: str,
        counters: Sequence[Counter],
        actual_micro: int,
        marker_ttl_s: float,
    ) -> bool:
        now = self._clock()
        if self._is_done(reservation_id, now):
            return False
        self._sweep_done(now)
        self._done[reservation_id] = now + marker_ttl_s
        for counter in counters:
            budget = self._budget(counter, now)
            budget.live.pop(reservation_id, None)
            budget.spent += actual_micro
        return True

    async def read(self, counters: Sequence[Counter]) -> list[CounterState]:
        now = self._clock()
        states = []
        for counter in counters:
            budget = self._budget(counter, now)
            states.append(CounterState(budget.spent, budget.reserved))
        return states
