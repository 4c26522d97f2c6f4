"""Builders for accounts unit tests: an in-memory service on a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.accounts import AccessService, AccountsSettings, Limits, Principal
from router.accounts.admin_wire import KeyCreate, TeamCreate
from router.settings import Settings


@dataclass
class FakeClock:
    """Epoch seconds that only move when the test says so."""

    now: float

    @classmethod
    def at(cls, iso: str) -> FakeClock:
        return cls(datetime.fromisoformat(iso).timestamp())

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def memory_service(clock: FakeClock, **accounts: Any) -> AccessService:
    return AccessService.create(
        Settings(), None, accounts=AccountsSettings(**accounts), clock=clock
    )


async def add_team(service: AccessService, name: str = "acme", **fields: Any) -> None:
    await service.admin.create_team(TeamCreate(name=name, **fields))


async def add_key(
    service: AccessService, team: str = "acme", limits: Limits | None = None, **fields: Any
) -> tuple[str, Principal]:
    """A new key's secret and the principal it authenticates as."""
    _, secret = await service.admin.create_key(
        KeyCreate(team=team, limits=limits or Limits(), **fields)
    )
    return secret, await service.authenticate(f"Bearer {secret}")
