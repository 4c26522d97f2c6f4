"""`AccountStore` on Redis: shared by every replica, exact under concurrency (Lua scripts).

Records are JSON validated by pydantic on the way back in. Every call is bounded by a timeout
and any failure to reach Redis becomes `StoreUnavailable`; the service decides what that means.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from router.accounts import lua
from router.accounts.models import Counter, CounterState, KeyRecord, TeamRecord
from router.accounts.ratelimits import PERIOD_US, RateRule
from router.accounts.store import (
    AdmitOutcome,
    RateOutcome,
    ReserveOutcome,
    ReserveStatus,
    StoreFailure,
    StoreUnavailable,
)

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)
# What redis-py's BlockingConnectionPool raises when no connection frees up within its timeout.
_POOL_EXHAUSTED = "No connection available"


class RedisAccountStore:
    """Keys, teams, budgets and rate limits in Redis under one prefix (`accounts.redis_prefix`)."""

    def __init__(
        self, redis: Redis, *, prefix: str, timeout_s: float, admin_timeout_s: float
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._admin_timeout_s = admin_timeout_s
        # register_script runs EVALSHA and falls back to SCRIPT LOAD after a Redis restart.
        self._reserve = redis.register_script(lua.RESERVE)
        self._finish = redis.register_script(lua.FINISH)
        self._read = redis.register_script(lua.READ)
        self._hit = redis.register_script(lua.HIT)
        self._authenticate = redis.register_script(lua.AUTHENTICATE)
        self._admit = redis.register_script(lua.ADMIT)

    async def _call(self, awaitable: Awaitable[T], *, admin: bool = False) -> T:
        timeout_s = self._admin_timeout_s if admin else self._timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                return await awaitable
        except _UNREACHABLE as exc:
            raise store_unavailable(exc, timeout_s) from exc

    # -- records ---------------------------------------------------------------------------

    def _team_key(self, name: str) -> str:
        return f"{self._prefix}:team:{name}"

    def _key_key(self, key_id: str) -> str:
        return f"{self._prefix}:key:{key_id}"

    async def _create(self, key: str, index: str, member: str, record: BaseModel) -> bool:
        async def create() -> bool:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, record.model_dump_json(), nx=True)
                pipe.sadd(index, member)
                created, _ = await pipe.execute()
            return bool(created)

        return await self._call(create(), admin=True)

    async def _get(self, key: str, model: type[R]) -> R | None:
        raw = await self._call(self._redis.get(key))
        return None if raw is None else _parse(model, raw, key)

    async def _list(self, index: str, key_of: Callable[[str], str], model: type[R]) -> list[R]:
        async def read_all() -> list[Any]:
            # redis-py types replies as "awaitable or value" for its sync and async clients.
            members = await cast("Awaitable[set[bytes | str]]", self._redis.smembers(index))
            if not members:
                return []
            keys = [key_of(_text(member)) for member in sorted(members)]
            return list(await self._redis.mget(keys))

        raws = await self._call(read_all(), admin=True)
        return [_parse(model, raw, index) for raw in raws if raw is not None]

    async def create_team(self, record: TeamRecord) -> bool:
        key = self._team_key(record.name)
        return await self._create(key, f"{self._prefix}:teams", record.name, record)

    async def put_team(self, record: TeamRecord) -> None:
        key, payload = self._team_key(record.name), record.model_dump_json()
        await self._call(self._redis.set(key, payload), admin=True)

    async def get_team(self, name: str) -> TeamRecord | None:
        return await self._get(self._team_key(name), TeamRecord)

    async def list_teams(self) -> list[TeamRecord]:
        return await self._list(f"{self._prefix}:teams", self._team_key, TeamRecord)

    async def create_key(self, record: KeyRecord) -> bool:
        key = self._key_key(record.key_id)
        return await self._create(key, f"{self._prefix}:keys", record.key_id, record)

    async def put_key(self, record: KeyRecord) -> None:
        key, payload = self._key_key(record.key_id), record.model_dump_json()
        await self._call(self._redis.set(key, payload), admin=True)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return await self._get(self._key_key(key_id), KeyRecord)

    async def list_keys(self) -> list[KeyRecord]:
        return await self._list(f"{self._prefix}:keys", self._key_key, KeyRecord)

    async def get_key_and_team(self, key_id: str) -> tuple[KeyRecord | None, TeamRecord | None]:
        where = self._key_key(key_id)
        key_raw, team_raw = await self._call(self._authenticate([where], [f"{self._prefix}:team:"]))
        key = _parse(KeyRecord, key_raw, where) if key_raw else None
        team = _parse(TeamRecord, team_raw, where) if team_raw else None
        return key, team

    async def seed_spend(self, spent: Mapping[str, int], ttl_s: int) -> None:
        """Settled spend from the database, for counters Redis does not hold (Redis lost its
        data): a counter Redis still has is newer than the database and is kept."""
        if not spent:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, amount in spent.items():
            key = f"{self._prefix}:budget:{name}"
            pipe.hsetnx(key, "spent", str(amount))
            pipe.expire(key, ttl_s, nx=True)
        await self._call(pipe.execute(), admin=True)

    # -- request path ----------------------------------------------------------------------

    def _counter_keys(self, counters: Sequence[Counter]) -> list[str]:
        keys = []
        for counter in counters:
            base = f"{self._prefix}:budget:{counter.name}"
            keys += [base, f"{base}:resv"]
        return keys

    def _done_key(self, reservation_id: str) -> str:
        return f"{self._prefix}:done:{reservation_id}"

    async def hit(self, rules: Sequence[RateRule]) -> RateOutcome:
        if not rules:
            return RateOutcome()
        keys, args = self._rate_call(rules)
        return _rate_outcome(await self._call(self._hit(keys, args)), rules)

    def _rate_call(self, rules: Sequence[RateRule]) -> tuple[list[str], list[int]]:
        keys = [f"{self._prefix}:rate:{rule.name}" for rule in rules]
        args: list[int] = []
        for rule in rules:
            args += [rule.increment_us, PERIOD_US]
        return keys, args

    def _reserve_call(
        self, reservation_id: str, amount_micro: int, counters: Sequence[Counter], ttl_s: float
    ) -> tuple[list[str], list[str | int]]:
        keys = [self._done_key(reservation_id), *self._counter_keys(counters)]
        args: list[str | int] = [reservation_id, amount_micro, math.ceil(ttl_s * 1000)]
        for counter in counters:
            limit = -1 if counter.limit_micro is None else counter.limit_micro
            args += [limit, counter.ttl_s]
        return keys, args

    async def reserve(
        self, reservation_id: str, amount_micro: int, counters: Sequence[Counter], ttl_s: float
    ) -> ReserveOutcome:
        keys, args = self._reserve_call(reservation_id, amount_micro, counters, ttl_s)
        reply = await self._call(self._reserve(keys, args))
        return _reserve_outcome(reply, counters)

    async def admit(
        self,
        rules: Sequence[RateRule],
        reservation_id: str,
        amount_micro: int,
        counters: Sequence[Counter],
        ttl_s: float,
    ) -> AdmitOutcome:
        rate_keys, rate_args = self._rate_call(rules)
        keys: list[str] = []
        args: list[str | int] = []
        if counters:
            keys, args = self._reserve_call(reservation_id, amount_micro, counters, ttl_s)
        reply = await self._call(
            self._admit([*rate_keys, *keys], [len(rules), *rate_args, *args])
        )
        rate = _rate_outcome(reply[:2], rules)
        if rate.rule is not None:
            return AdmitOutcome(rate, None)
        return AdmitOutcome(rate, _reserve_outcome(reply[2:], counters))

    async def finish(
        self,
        reservation_id: str,
        counters: Sequence[Counter],
        actual_micro: int,
        marker_ttl_s: float,
    ) -> bool:
        keys = [self._done_key(reservation_id), *self._counter_keys(counters)]
        outcome = "settled" if actual_micro > 0 else "released"
        args: list[str | int] = [
            reservation_id,
            actual_micro,
            math.ceil(marker_ttl_s * 1000),
            outcome,
            *(counter.ttl_s for counter in counters),
        ]
        return bool(await self._call(self._finish(keys, args)))

    async def read(self, counters: Sequence[Counter]) -> list[CounterState]:
        if not counters:
            return []
        flat = await self._call(self._read(self._counter_keys(counters), []))
        return [CounterState(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]


def _rate_outcome(reply: Sequence[Any], rules: Sequence[RateRule]) -> RateOutcome:
    index, wait_us = int(reply[0]), int(reply[1])
    if index == 0:
        return RateOutcome()
    return RateOutcome(rule=rules[index - 1], retry_after_us=wait_us)


def _reserve_outcome(reply: Sequence[Any], counters: Sequence[Counter]) -> ReserveOutcome:
    status, index, spent, reserved = (int(value) for value in reply)
    outcome = ReserveStatus(status)
    if outcome is not ReserveStatus.REJECTED:
        return ReserveOutcome(outcome)
    return ReserveOutcome(outcome, counters[index - 1], CounterState(spent, reserved))


def store_unavailable(exc: BaseException, waited_s: float) -> StoreUnavailable:
    """Name what happened: a wait that ran out (Redis slow, or every pooled connection busy)
    is not a Redis that refuses connections, and the operator's fix differs."""
    waited_ms = waited_s * 1000
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return StoreUnavailable(StoreFailure.TIMEOUT, "", waited_ms=waited_ms)
    if isinstance(exc, RedisConnectionError) and _POOL_EXHAUSTED in str(exc):
        return StoreUnavailable(
            StoreFailure.TIMEOUT, "no free pooled connection; see JUNCTION_REDIS__MAX_CONNECTIONS",
            waited_ms=waited_ms,
        )
    detail = str(exc) or type(exc).__name__
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, ConnectionRefusedError):
            detail = f"connection refused: {detail}"
            break
        if isinstance(cause, ConnectionResetError | BrokenPipeError):
            detail = f"connection reset: {detail}"
            break
    return StoreUnavailable(StoreFailure.UNREACHABLE, detail, waited_ms=waited_ms)


def _text(value: bytes | str) -> str:
    # The app may build its client with or without decode_responses.
    return value.decode() if isinstance(value, bytes) else value


def _parse(model: type[R], raw: bytes | str, where: str) -> R:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"corrupt {model.__name__} in Redis at {where!r}: {exc}") from exc
