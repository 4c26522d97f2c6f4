"""Admission: who is calling, rate limits and the budget reservation; settle or release after.

Only metered callers (keys with budgets or limits) cost a round trip; without accounts every
call here is a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from router.accounts import AccessService, Principal, Reservation
from router.accounts.estimate import TokenBound, token_bound
from router.gateway.background import Background
from router.gateway.plan import PlannedRequest
from router.policy.decision import Decision
from router.policy.pricing import ModelPrice


class PriceSource(Protocol):
    def price(self, model: str) -> ModelPrice: ...


@dataclass(frozen=True, slots=True)
class Standing:
    """Who is calling and where they stand against their budgets, before the decision."""

    principal: Principal | None
    pressure: str | None = None  # set when a budget is above its soft limit
    budget_used_share: float | None = None  # the fullest budget's share spent or reserved


class Admission:
    """The accounts side of a request: authenticate, admit, settle, release."""

    def __init__(
        self,
        access: AccessService | None,
        prices: PriceSource,
        background: Background,
        reserve_output_tokens: int = 4096,
    ) -> None:
        self.access = access
        self.prices = prices
        self.background = background
        self.reserve_output_tokens = reserve_output_tokens

    async def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        if self.access is None:
            return None
        return await self.access.authenticate(headers.get("authorization"))

    async def caller(self, headers: Mapping[str, str]) -> tuple[Principal | None, str | None]:
        """Who is calling, and whether one of their budgets is above its soft limit."""
        standing = await self.standing(headers)
        return standing.principal, standing.pressure

    async def standing(self, headers: Mapping[str, str]) -> Standing:
        """The caller, the budget pressure the policy may act on, and how full the fullest
        budget is (kept in the request's record so what-if can replay the pressure)."""
        principal = await self.authenticate(headers)
        if principal is None or not principal.metered or self.access is None:
            return Standing(principal)
        status = await self.access.budget_status(principal)
        pressure = None
        if status.soft_exceeded:
            pressure = f"budget {status.which or ''} is above its soft limit".replace("  ", " ")
        return Standing(principal, pressure, status.used_share)

    async def admit(
        self, req: PlannedRequest, decision: Decision, prices: PriceSource | None = None,
        bound: TokenBound | None = None,
    ) -> None:
        """Rate limits and the budget reservation, for callers that are metered; priced with
        `prices` when given (the request's pinned policy), else the current ones. `bound`
        replaces the chat body's token bound (a door whose body is not a chat, embeddings)."""
        principal = req.principal
        if principal is None or not principal.metered or self.access is None:
            return
        if bound is None:
            output = req.chat.output_limit or self.reserve_output_tokens
            # The reservation must never be below what settles, so it prices an upper bound
            # on the tokens billed, not the classifier's estimate.
            bound = token_bound(req.data, default_output_tokens=self.reserve_output_tokens,
                                image_tokens=self.access.accounts.reserve_image_tokens)
        else:
            output = bound.output_tokens
        prices = prices or self.prices
        worst = max(
            (prices.price(m).cost(bound.prompt_tokens, bound.output_tokens)
             for m in decision.attempts),
            default=0.0,
        )
        # Rate limits and the reservation in one round trip to Redis.
        req.reservation = await self.access.admit(
            principal, req.classification.prompt_tokens + output, req.request_id, worst
        )

    def settle(self, req: PlannedRequest, cost: float) -> None:
        """Charge what the request cost, off the request path; the reservation is spent."""
        reservation, req.reservation = req.reservation, None
        if reservation is not None and self.access is not None:
            self.background.spawn(self.access.settle(reservation, cost))

    def release(self, req: PlannedRequest) -> None:
        """Give back a reservation that did not settle (failure, disconnect, cancellation)."""
        reservation, req.reservation = req.reservation, None
        if reservation is not None:
            self.background.spawn(self._release(reservation))

    async def _release(self, reservation: Reservation) -> None:
        if self.access is not None:
            await self.access.release(reservation)
