"""`AccessService`: what the request path asks of accounts, in the order it asks.

    principal = await access.authenticate(request.headers.get("authorization"))
    status = await access.budget_status(principal)       # soft_exceeded: maybe go local
    reservation = await access.admit(principal, estimated_tokens, request_id, max_cost_usd)
    # (admit = check_rate_limit + reserve in one round trip)
    try:
        ...call the model...
        await access.settle(reservation, actual_cost_usd)
    finally:
        await access.release(reservation)                # no-op after settle

With Redis unreachable: key checks answer 503; budgets and rate limits answer 503 too unless
`redis.fail_open_budgets` is set, in which case they are skipped (and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from redis.asyncio import Redis

from router.accounts.admin import AccountsAdmin
from router.accounts.budgets import (
    budget_exceeded,
    budget_line,
    counters_for,
    scope_counters,
    status_of,
)
from router.accounts.keys import KeyHasher, looks_like_junction_key, parse_key_id
from router.accounts.memory import MemoryAccountStore
from router.accounts.models import (
    BudgetStatus,
    KeyStatus,
    Principal,
    Reservation,
    Scope,
    SpendReport,
    format_usd,
    usd_to_micro,
)
from router.accounts.periods import Clock, utc
from router.accounts.principals import anonymous_principal, principal_for
from router.accounts.ratelimits import rate_limited, rules_for, too_large
from router.accounts.redis_store import RedisAccountStore
from router.accounts.retry import FinishRetrier, RetryPolicy
from router.accounts.store import (
    AccountStore,
    ReserveOutcome,
    ReserveStatus,
    StoreUnavailable,
)
from router.errors import AuthenticationFailed, PermissionDenied, ServiceUnavailable
from router.settings import AccountsSettings, Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

_FAIL_OPEN_HINT = (
    "Set JUNCTION_REDIS__FAIL_OPEN_BUDGETS=true to serve without budget and rate-limit checks "
    "while Redis is down."
)
# The longest wait between two settlement retries.
_MAX_RETRY_BACKOFF_S = 30.0
_UNLIMITED = BudgetStatus(soft_exceeded=False, hard_exceeded=False, which=None, reset_at=None)


def accounts_settings(settings: Settings) -> AccountsSettings:
    """The accounts sub-model of `Settings` (JUNCTION_ACCOUNTS__*)."""
    return settings.accounts


class AccessService:
    """Authenticates callers and meters them: rate limits, budget reservations, settlement."""

    def __init__(
        self,
        store: AccountStore,
        *,
        accounts: AccountsSettings,
        fail_open: bool,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._fail_open = fail_open
        self._clock = clock
        self._hasher = KeyHasher(accounts.key_pepper)
        self._anonymous = anonymous_principal(accounts.anonymous_sensitivity)
        # Settlements and releases in flight, by reservation id; they hold the only reference
        # to their task, so asyncio cannot collect one mid-flight.
        self._finishing: dict[str, asyncio.Task[bool]] = {}
        # Finishes that failed on an unreachable store, retried until it is back.
        self._retrier = FinishRetrier(
            self._finish_now,
            RetryPolicy(
                attempts=accounts.settle_retry_attempts,
                backoff_s=accounts.settle_retry_backoff_s,
                max_backoff_s=_MAX_RETRY_BACKOFF_S,
                capacity=accounts.settle_retry_queue,
            ),
        )
        self.admin = AccountsAdmin(store, hasher=self._hasher, clock=clock, accounts=accounts)

    @classmethod
    def create(
        cls,
        settings: Settings,
        redis: Redis | None,
        *,
        accounts: AccountsSettings | None = None,
        clock: Clock = time.time,
        durable: Callable[[AccountStore], AccountStore] | None = None,
    ) -> AccessService:
        """In memory without a Redis client (one process), else shared through Redis;
        `durable` wraps that store in one that also writes to the database."""
        accounts = accounts or accounts_settings(settings)
        store: AccountStore
        if redis is None:
            store = MemoryAccountStore(clock)
        else:
            store = RedisAccountStore(
                redis,
                prefix=accounts.redis_prefix,
                timeout_s=settings.redis.timeout_ms / 1000,
                admin_timeout_s=accounts.admin_timeout_s,
            )
        if durable is not None:
            store = durable(store)
        fail_open = settings.redis.fail_open_budgets
        return cls(store, accounts=accounts, fail_open=fail_open, clock=clock)

    @property
    def accounts(self) -> AccountsSettings:
        """The accounts settings this service was built with."""
        return self._accounts

    def now(self) -> datetime:
        """The service's clock as an aware UTC datetime."""
        return utc(self._clock())

    # -- authentication --------------------------------------------------------------------

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header; raises AuthenticationFailed (401)."""
        token = _bearer_token(authorization)
        if token is None or not looks_like_junction_key(token):
            if self._accounts.require_key:
                raise AuthenticationFailed(
                    "A Junction API key is required: send 'Authorization: Bearer jk-...'."
                    if token is None
                    else "This is not a Junction API key (they start with 'jk-')."
                )
            return await self._anonymous_principal()
        key_id = parse_key_id(token)
        if key_id is None:
            raise AuthenticationFailed("Malformed Junction API key: expected jk-<id>-<secret>.")
        key, team = await self._guard_auth(self._store.get_key_and_team(key_id))
        if key is None or not self._hasher.matches(token, key.key_hash):
            raise AuthenticationFailed(f"Invalid API key jk-{key_id}-...")
        status = key.status(utc(self._clock()))
        if status is KeyStatus.REVOKED:
            assert key.revoked_at is not None
            raise AuthenticationFailed(
                f"API key {key.prefix}-... was revoked at {key.revoked_at.isoformat()}."
            )
        if status is KeyStatus.EXPIRED:
            assert key.expires_at is not None
            raise AuthenticationFailed(
                f"API key {key.prefix}-... expired at {key.expires_at.isoformat()}."
            )
        if team is None:
            raise AuthenticationFailed(f"API key {key.prefix}-... belongs to no existing team.")
        return principal_for(key, team)

    async def _anonymous_principal(self) -> Principal:
        name = self._accounts.anonymous_team
        if name is None:
            return self._anonymous
        try:
            team = await self._store.get_team(name)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return self._anonymous
        return anonymous_principal(self._accounts.anonymous_sensitivity, team)

    async def _guard_auth(self, call: Coroutine[Any, Any, T]) -> T:
        try:
            return await call
        except StoreUnavailable as exc:
            # Never fail open here: an unverifiable key is not a valid key.
            raise ServiceUnavailable(
                f"{exc.sentence_start}, so API keys cannot be checked.",
                code="store_unavailable",
            ) from exc

    def _unavailable(self, exc: StoreUnavailable) -> None:
        """Fail open (log, carry on) or closed (503), as `redis.fail_open_budgets` says."""
        if self._fail_open:
            logger.warning("accounts store unavailable, serving unmetered: %s", exc)
            return
        raise ServiceUnavailable(
            f"{exc.sentence_start}, so budgets and rate limits cannot be checked. "
            + _FAIL_OPEN_HINT,
            code="store_unavailable",
        ) from exc

    # -- rate limits and budgets -----------------------------------------------------------

    async def check_rate_limit(self, principal: Principal, tokens: int) -> None:
        """Count one request and `tokens` tokens; raises RateLimited (429, Retry-After)."""
        rules = rules_for(principal, tokens)
        if not rules:
            return
        for rule in rules:
            if rule.cost > rule.limit_per_minute:
                raise too_large(rule)
        try:
            outcome = await self._store.hit(rules)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return
        if outcome.rule is not None:
            raise rate_limited(outcome.rule, outcome.retry_after_us)

    async def budget_status(self, principal: Principal) -> BudgetStatus:
        """Where the principal stands against its budgets (spend plus live reservations)."""
        if not principal.metered:
            return _UNLIMITED
        counters = counters_for(principal, utc(self._clock()))
        try:
            states = await self._store.read(counters)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return replace(_UNLIMITED, enforced=False)
        return status_of(tuple(budget_line(c, s) for c, s in zip(counters, states, strict=True)))

    async def reserve(
        self, principal: Principal, request_id: str, max_cost_usd: float
    ) -> Reservation:
        """Set aside the request's largest possible cost on every budget of the principal.

        Raises PermissionDenied (403) above the per-request cap and RateLimited (429,
        code budget_exceeded) when a budget cannot take it. One reservation per request id.
        """
        reservation, now = self._planned(principal, request_id, max_cost_usd)
        if not reservation.counters:
            return reservation
        call = self._store.reserve(
            request_id, reservation.amount_micro, reservation.counters,
            self._accounts.reservation_ttl_s,
        )
        outcome = await self._reserving(reservation, call)
        if outcome is None:
            return replace(reservation, enforced=False)
        return self._reserved(reservation, outcome, now)

    async def admit(
        self, principal: Principal, tokens: int, request_id: str, max_cost_usd: float
    ) -> Reservation:
        """`check_rate_limit` then `reserve`, in one round trip to the store.

        The per-request cap (403) is checked first, without the store; then rate limits (429
        rate_limit_exceeded), then budgets (429 budget_exceeded).
        """
        rules = rules_for(principal, tokens)
        for rule in rules:
            if rule.cost > rule.limit_per_minute:
                raise too_large(rule)
        reservation, now = self._planned(principal, request_id, max_cost_usd)
        if not rules and not reservation.counters:
            return reservation
        call = self._store.admit(
            rules, request_id, reservation.amount_micro, reservation.counters,
            self._accounts.reservation_ttl_s,
        )
        outcome = await self._reserving(reservation, call)
        if outcome is None:
            return replace(reservation, enforced=False)
        if outcome.rate.rule is not None:
            raise rate_limited(outcome.rate.rule, outcome.rate.retry_after_us)
        assert outcome.reserve is not None
        return self._reserved(reservation, outcome.reserve, now)

    def _planned(
        self, principal: Principal, request_id: str, max_cost_usd: float
    ) -> tuple[Reservation, datetime]:
        """The reservation a request needs (no counters when unmetered); 403 above the cap."""
        if max_cost_usd < 0:
            raise ValueError(f"max_cost_usd must be >= 0, got {max_cost_usd}")
        cap = principal.max_cost_per_request
        if cap is not None and max_cost_usd > cap:
            who = principal.key_prefix or f"team {principal.team!r}"
            raise PermissionDenied(
                f"This request may cost up to {format_usd(max_cost_usd)}, above the "
                f"{format_usd(cap)} per-request cap of {who}; lower max_tokens or pick a "
                "cheaper model.",
                param="max_tokens",
                code="max_cost_per_request_exceeded",
            )
        now = utc(self._clock())
        counters = counters_for(principal, now) if principal.metered else ()
        amount = usd_to_micro(max_cost_usd, round_up=True)
        return Reservation(request_id, amount, counters), now

    async def _reserving(
        self, reservation: Reservation, call: Coroutine[Any, Any, T]
    ) -> T | None:
        """Run a store call that may reserve; None when the store is down and budgets fail
        open (503 when they fail closed)."""
        try:
            return await call
        except StoreUnavailable as exc:
            if not self._fail_open and reservation.counters:
                # The caller gets a 503 and no reservation, yet the script may have run before
                # the timeout: free it if Redis answers (else its TTL does).
                self._finish_in_background(reservation, 0)
            self._unavailable(exc)
            # Failing open: the caller settles this as usual, which records the spend if
            # Redis is back by then.
            return None
        except asyncio.CancelledError:
            # The client went away while the script was in flight. Releasing by id frees the
            # money if the script ran, and blocks it if it has yet to run.
            if reservation.counters:
                self._finish_in_background(reservation, 0)
            raise

    def _reserved(
        self, reservation: Reservation, outcome: ReserveOutcome, now: datetime
    ) -> Reservation:
        if outcome.status is ReserveStatus.REJECTED:
            assert outcome.rejected is not None and outcome.state is not None
            raise budget_exceeded(outcome.rejected, outcome.state, reservation.amount_micro, now)
        if outcome.status is ReserveStatus.ALREADY_FINISHED:
            raise ValueError(
                f"reservation {reservation.reservation_id!r} was already settled or released; "
                "use a fresh id for each reservation"
            )
        return reservation

    async def settle(self, reservation: Reservation, actual_cost_usd: float) -> None:
        """Record the true cost and free the rest of the reservation. Idempotent."""
        if actual_cost_usd < 0:
            raise ValueError(f"actual_cost_usd must be >= 0, got {actual_cost_usd}")
        await self._finish(reservation, usd_to_micro(actual_cost_usd))

    async def release(self, reservation: Reservation) -> None:
        """Free the whole reservation (the request failed or the client left). Idempotent;
        a no-op after `settle`."""
        await self._finish(reservation, 0)

    async def _finish(self, reservation: Reservation, actual_micro: int) -> None:
        if not reservation.counters:
            return
        # One finish per reservation in flight: a release issued while the settle is still
        # running (the client left mid-settle) waits for it rather than racing it to Redis.
        if self._retrier.holds(reservation.reservation_id):
            # Behind a finish still waiting for Redis: join it there (a settle then keeps its
            # amount), rather than race it and let a release land first.
            self._retrier.submit(reservation, actual_micro)
            return
        task = self._finishing.get(reservation.reservation_id)
        if task is None:
            task = self._finish_in_background(reservation, actual_micro)
        # Shielded: a client disconnecting mid-settle must not lose the spend. A store that
        # cannot be reached queues the finish for a retry (in _forget).
        with contextlib.suppress(StoreUnavailable):
            await asyncio.shield(task)

    async def _finish_now(self, reservation: Reservation, actual_micro: int) -> bool:
        marker_ttl_s = 2 * self._accounts.reservation_ttl_s
        return await self._store.finish(
            reservation.reservation_id, reservation.counters, actual_micro, marker_ttl_s
        )

    def _finish_in_background(
        self, reservation: Reservation, actual_micro: int
    ) -> asyncio.Task[bool]:
        rid = reservation.reservation_id
        task = asyncio.ensure_future(self._finish_now(reservation, actual_micro))
        self._finishing[rid] = task
        task.add_done_callback(lambda done: self._forget(reservation, actual_micro, done))
        return task

    def _forget(
        self, reservation: Reservation, actual_micro: int, task: asyncio.Task[bool]
    ) -> None:
        rid = reservation.reservation_id
        if self._finishing.get(rid) is task:
            del self._finishing[rid]
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, StoreUnavailable):
            self._retrier.submit(reservation, actual_micro)
        elif exc is not None:
            logger.error("finishing reservation %s failed", rid, exc_info=exc)

    def on_dropped_settlement(self, hook: Callable[[str], None]) -> None:
        """Call `hook(reason)` for each settlement given up (the app counts them in a metric)."""
        self._retrier.set_drop_hook(hook)

    @property
    def settlements_pending(self) -> int:
        """Settlements waiting for Redis to come back."""
        return self._retrier.pending

    async def wait_settled(self) -> None:
        """Return once no settlement is running or waiting for a retry."""
        while self._finishing or self._retrier.pending:
            if self._finishing:
                await asyncio.gather(*self._finishing.values(), return_exceptions=True)
            await self._retrier.wait_idle()

    async def aclose(self) -> None:
        """Wait for settlements still running; one last try for those awaiting a retry (call
        at shutdown; what still fails is dropped, logged and counted)."""
        if self._finishing:
            await asyncio.gather(*self._finishing.values(), return_exceptions=True)
        await self._retrier.aclose()

    # -- reporting -------------------------------------------------------------------------

    async def spend(self, *, key_id: str | None = None, team: str | None = None) -> SpendReport:
        """A key's or a team's spend and limits in the current UTC day and month."""
        if (key_id is None) == (team is None):
            raise ValueError("give exactly one of key_id or team")
        now = utc(self._clock())
        if key_id is not None:
            key = await self.admin.get_key(key_id)
            scope, owner, limits = Scope.KEY, key_id, key.limits
        else:
            assert team is not None
            record = await self.admin.get_team(team)
            scope, owner, limits = Scope.TEAM, team, record.limits
        counters = scope_counters(scope, owner, limits, now)
        try:
            states = await self._store.read(counters)
        except StoreUnavailable as exc:
            raise ServiceUnavailable(
                f"{exc.sentence_start}; spend cannot be read.", code="store_unavailable"
            ) from exc
        lines = tuple(budget_line(c, s) for c, s in zip(counters, states, strict=True))
        return SpendReport(scope=scope, owner=owner, lines=lines)


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
