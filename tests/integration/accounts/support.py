"""Builders for accounts tests against a real redis-server."""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis

from router.accounts import AccessService, AccountsSettings, Limits
from router.accounts.admin_wire import KeyCreate, TeamCreate
from router.accounts.periods import Clock
from router.settings import RedisSettings, Settings


def new_prefix() -> str:
    """A Redis key prefix of its own for each test, so tests share one server safely."""
    return f"test:{uuid.uuid4().hex[:12]}"


def redis_service(
    redis: Redis,
    prefix: str,
    *,
    timeout_ms: float = 5000,
    fail_open: bool = False,
    clock: Clock | None = None,
    **accounts: Any,
) -> AccessService:
    settings = Settings(redis=RedisSettings(timeout_ms=timeout_ms, fail_open_budgets=fail_open))
    accounts_settings = AccountsSettings(redis_prefix=prefix, **accounts)
    if clock is None:
        return AccessService.create(settings, redis, accounts=accounts_settings)
    return AccessService.create(settings, redis, accounts=accounts_settings, clock=clock)


async def team_and_key(
    service: AccessService, team_limits: Limits, team: str = "acme", **key: Any
) -> str:
    """Create a team and one key of it; returns the key's secret."""
    await service.admin.create_team(TeamCreate(name=team, limits=team_limits))
    _, secret = await service.admin.create_key(KeyCreate(team=team, **key))
    return secret
