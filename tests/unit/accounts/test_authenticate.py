from __future__ import annotations

import asyncio

import pytest

from router.accounts import Limits
from router.accounts.admin_wire import KeyCreate
from router.classify.types import Sensitivity
from router.errors import AuthenticationFailed
from tests.unit.accounts.support import FakeClock, add_key, add_team, memory_service

START = "2025-03-10T12:00:00+00:00"


@pytest.mark.parametrize("header", [None, "", "Bearer EMPTY", "Bearer sk-proj-123", "Basic abc"])
def test_without_a_junction_key_callers_are_anonymous_by_default(header: str | None) -> None:
    service = memory_service(FakeClock.at(START))
    principal = asyncio.run(service.authenticate(header))
    assert principal.anonymous
    assert not principal.metered
    assert principal.allowed_models is None


@pytest.mark.parametrize(
    ("header", "says"),
    [(None, "is required"), ("Bearer sk-proj-123", "not a Junction API key")],
)
def test_require_key_refuses_callers_without_one(header: str | None, says: str) -> None:
    service = memory_service(FakeClock.at(START), require_key=True)
    with pytest.raises(AuthenticationFailed, match=says):
        asyncio.run(service.authenticate(header))


@pytest.mark.parametrize(
    "token", ["jk-nonsense", "jk-abcdefgh-" + "A" * 43, "jk-abcdefgh-" + "A" * 8]
)
def test_a_bad_junction_key_is_refused_even_when_keys_are_optional(token: str) -> None:
    service = memory_service(FakeClock.at(START))
    with pytest.raises(AuthenticationFailed):
        asyncio.run(service.authenticate(f"Bearer {token}"))


def test_a_key_with_the_right_id_but_the_wrong_secret_is_refused() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(service)
        secret, _ = await add_key(service)
        forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
        with pytest.raises(AuthenticationFailed, match="Invalid API key"):
            await service.authenticate(f"Bearer {forged}")

    asyncio.run(scenario())


def test_a_key_merges_with_its_team_into_the_stricter_rules() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(
            service,
            allowed_models=["gpt-4o", "local", "claude"],
            default_sensitivity=Sensitivity.PII,
            limits=Limits(max_cost_per_request_usd=0.5),
        )
        _, principal = await add_key(
            service,
            allowed_models=["local", "claude", "not-in-team"],
            default_sensitivity=Sensitivity.CONFIDENTIAL,
            limits=Limits(max_cost_per_request_usd=2.0),
        )
        assert not principal.anonymous
        assert principal.team == "acme"
        assert principal.key_prefix == f"jk-{principal.key_id}"
        assert principal.allowed_models == frozenset({"local", "claude"})
        assert principal.allowed_routes is None
        assert principal.allows_model("local") and not principal.allows_model("gpt-4o")
        assert principal.default_sensitivity is Sensitivity.CONFIDENTIAL
        assert principal.max_cost_per_request == 0.5

    asyncio.run(scenario())


def test_revocation_takes_effect_on_the_next_request() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(service)
        secret, principal = await add_key(service)
        assert principal.key_id is not None
        await service.admin.revoke_key(principal.key_id)
        with pytest.raises(AuthenticationFailed, match="revoked"):
            await service.authenticate(f"Bearer {secret}")

    asyncio.run(scenario())


def test_a_key_expires_at_its_expiry() -> None:
    async def scenario() -> None:
        clock = FakeClock.at(START)
        service = memory_service(clock)
        await add_team(service)
        secret, _ = await add_key(service, expires_in_days=1)
        clock.advance(86_400 - 1)
        await service.authenticate(f"Bearer {secret}")
        clock.advance(1)
        with pytest.raises(AuthenticationFailed, match="expired at 2025-03-11T12:00:00"):
            await service.authenticate(f"Bearer {secret}")

    asyncio.run(scenario())


def test_only_a_hash_of_the_secret_is_stored() -> None:
    async def scenario() -> None:
        service = memory_service(FakeClock.at(START))
        await add_team(service)
        record, secret = await service.admin.create_key(KeyCreate(team="acme"))
        stored = record.model_dump_json()
        assert secret not in stored
        assert secret.split("-", 2)[2] not in stored
        assert record.key_hash.startswith("sha256:")

    asyncio.run(scenario())


def test_anonymous_callers_can_be_metered_as_a_team() -> None:
    async def scenario() -> None:
        service = memory_service(
            FakeClock.at(START),
            anonymous_team="public",
            anonymous_sensitivity=Sensitivity.PII,
        )
        await add_team(service, "public", allowed_models=["local"], limits=Limits(daily_usd=1))
        principal = await service.authenticate(None)
        assert principal.anonymous and principal.metered
        assert principal.team == "public"
        assert principal.allowed_models == frozenset({"local"})
        assert principal.default_sensitivity is Sensitivity.PII

    asyncio.run(scenario())
