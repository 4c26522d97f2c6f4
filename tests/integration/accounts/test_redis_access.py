"""Keys, rate limits and reservations shared through a real Redis by separate replicas."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis.asyncio import Redis

from router.accounts import Limits, Principal
from router.accounts.admin_wire import TeamUpdate
from router.classify.types import Sensitivity
from router.errors import AuthenticationFailed, RateLimited, ServiceUnavailable
from tests.integration.accounts.replicas import run_replicas
from tests.integration.accounts.support import new_prefix, redis_service, team_and_key
from tests.support.redis_server import free_port

pytestmark = pytest.mark.redis


def test_revocation_takes_effect_at_once_on_another_replica(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = new_prefix()
        async with Redis.from_url(redis_url) as one, Redis.from_url(redis_url) as other:
            admin_side, serving_side = redis_service(one, prefix), redis_service(other, prefix)
            secret = await team_and_key(admin_side, Limits())
            principal = await serving_side.authenticate(f"Bearer {secret}")
            assert principal.key_id is not None
            await admin_side.admin.revoke_key(principal.key_id)
            with pytest.raises(AuthenticationFailed, match="revoked"):
                await serving_side.authenticate(f"Bearer {secret}")

    asyncio.run(scenario())


def test_an_expired_key_is_refused(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = new_prefix()
        async with Redis.from_url(redis_url) as redis:
            secret = await team_and_key(redis_service(redis, prefix), Limits(), expires_in_days=1)
            two_days_later = redis_service(redis, prefix, clock=lambda: time.time() + 2 * 86_400)
            with pytest.raises(AuthenticationFailed, match="expired"):
                await two_days_later.authenticate(f"Bearer {secret}")

    asyncio.run(scenario())


def test_an_unknown_key_is_refused(redis_url: str) -> None:
    async def scenario() -> None:
        async with Redis.from_url(redis_url) as redis:
            service = redis_service(redis, new_prefix())
            with pytest.raises(AuthenticationFailed, match="Invalid API key"):
                await service.authenticate("Bearer jk-abcdefgh-" + "A" * 43)

    asyncio.run(scenario())


def test_rate_limits_hold_across_two_processes(redis_url: str) -> None:
    prefix = new_prefix()

    async def prepare() -> str:
        async with Redis.from_url(redis_url) as redis:
            return await team_and_key(redis_service(redis, prefix), Limits(requests_per_minute=20))

    spec = {"url": redis_url, "prefix": prefix, "secret": asyncio.run(prepare()), "tasks": 30}
    reports = run_replicas([{**spec, "mode": "rate"}, {**spec, "mode": "rate"}])
    allowed = sum(r["allowed"] for r in reports)
    # 20 at once, then one every 3 s: the run is far shorter than 3 s.
    assert allowed == 20
    refusals = [wait for r in reports for wait in r["retry_after"]]
    assert len(refusals) == 40 and all(1 <= wait <= 3 for wait in refusals)


def test_a_crashed_replicas_reservation_expires(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = new_prefix()
        async with Redis.from_url(redis_url) as one, Redis.from_url(redis_url) as other:
            crashed = redis_service(one, prefix, reservation_ttl_s=0.3)
            survivor = redis_service(other, prefix, reservation_ttl_s=0.3)
            secret = await team_and_key(crashed, Limits(daily_usd=1))
            principal = await crashed.authenticate(f"Bearer {secret}")
            await crashed.reserve(principal, "never-settled", 1.0)
            with pytest.raises(RateLimited, match="budget"):
                await survivor.reserve(principal, "r2", 0.5)
            await asyncio.sleep(0.4)
            assert (await survivor.budget_status(principal)).hard_exceeded is False
            await survivor.settle(await survivor.reserve(principal, "r3", 1.0), 0.25)
            assert (await survivor.spend(team="acme")).lines[0].spent_usd == 0.25

    asyncio.run(scenario())


@contextmanager
def _silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


_METERED = Principal(
    key_id="abcdefgh",
    key_prefix="jk-abcdefgh",
    team="acme",
    allowed_models=None,
    allowed_routes=None,
    default_sensitivity=Sensitivity.NONE,
    max_cost_per_request=None,
    anonymous=False,
    key_limits=Limits(daily_usd=1, requests_per_minute=10),
    team_limits=Limits(),
)


@pytest.mark.parametrize("server", ["refused", "silent"])
def test_budgets_fail_closed_by_default(server: str) -> None:
    async def scenario(url: str) -> None:
        async with Redis.from_url(url) as redis:
            service = redis_service(redis, new_prefix(), timeout_ms=100)
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as caught:
                await service.reserve(_METERED, "r1", 0.1)
            assert time.monotonic() - started < 1.0  # bounded by redis.timeout_ms
            assert "JUNCTION_REDIS__FAIL_OPEN_BUDGETS" in caught.value.message
            with pytest.raises(ServiceUnavailable):
                await service.check_rate_limit(_METERED, tokens=10)
            with pytest.raises(ServiceUnavailable, match="API keys cannot be checked"):
                await service.authenticate("Bearer jk-abcdefgh-" + "A" * 43)
            # Keyless callers need no Redis in the embedded default.
            assert (await service.authenticate(None)).anonymous
            await service.aclose()

    if server == "refused":
        asyncio.run(scenario(f"redis://127.0.0.1:{free_port()}/0"))
    else:
        with _silent_server() as url:
            asyncio.run(scenario(url))


def test_budgets_fail_open_when_configured() -> None:
    async def scenario() -> None:
        async with Redis.from_url(f"redis://127.0.0.1:{free_port()}/0") as redis:
            service = redis_service(redis, new_prefix(), timeout_ms=100, fail_open=True)
            await service.check_rate_limit(_METERED, tokens=10)
            assert not (await service.budget_status(_METERED)).enforced
            reservation = await service.reserve(_METERED, "r1", 0.1)
            assert not reservation.enforced
            await service.settle(reservation, 0.05)  # logged, not raised
            # Keys are never taken on trust, whatever the budget setting.
            with pytest.raises(ServiceUnavailable):
                await service.authenticate("Bearer jk-abcdefgh-" + "A" * 43)

    asyncio.run(scenario())


@pytest.mark.parametrize("decode_responses", [False, True])
def test_admin_records_round_trip_through_redis(redis_url: str, decode_responses: bool) -> None:
    async def scenario() -> None:
        prefix = new_prefix()
        async with Redis.from_url(redis_url, decode_responses=decode_responses) as redis:
            service = redis_service(redis, prefix)
            await team_and_key(service, Limits(daily_usd=3), team="beta")
            secret = await team_and_key(service, Limits(), team="alpha", name="ci")
            await service.admin.update_team("alpha", TeamUpdate(allowed_models=["local"]))
            assert [t.name for t in await service.admin.list_teams()] == ["alpha", "beta"]
            keys = await service.admin.list_keys()
            assert sorted(k.team for k in keys) == ["alpha", "beta"]
            assert [k.name for k in await service.admin.list_keys(team="alpha")] == ["ci"]
            principal = await service.authenticate(f"Bearer {secret}")
            assert principal.allowed_models == frozenset({"local"})
            assert (await service.spend(team="beta")).lines[0].limit_usd == 3

    asyncio.run(scenario())
