"""Managing teams and keys: what the admin API does, without the HTTP."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from router.accounts.admin_wire import KeyCreate, TeamCreate, TeamUpdate
from router.accounts.keys import KeyHasher, new_key_id, new_secret
from router.accounts.models import KeyRecord, Limits, TeamRecord
from router.accounts.periods import Clock, utc
from router.accounts.store import AccountStore, StoreUnavailable
from router.errors import InvalidRequest, NotFound, ServiceUnavailable
from router.settings import AccountsSettings

T = TypeVar("T")

# A new key id collides with an existing one about once in a trillion draws per key stored;
# a few retries make creation certain.
_KEY_ID_ATTEMPTS = 5


class AccountsAdmin:
    """Creates and updates teams, creates and revokes keys; every change is visible to every
    replica at once, since the request path reads the records on each call."""

    def __init__(
        self, store: AccountStore, *, hasher: KeyHasher, clock: Clock, accounts: AccountsSettings
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._accounts = accounts

    async def create_team(self, request: TeamCreate) -> TeamRecord:
        now = utc(self._clock())
        record = TeamRecord(
            name=request.name,
            allowed_models=_normalised(request.allowed_models),
            allowed_routes=_normalised(request.allowed_routes),
            default_sensitivity=request.default_sensitivity,
            limits=request.limits,
            created_at=now,
            updated_at=now,
        )
        if not await _admin_call(self._store.create_team(record)):
            raise InvalidRequest(
                f"Team {request.name!r} already exists; change it with PATCH /admin/teams/"
                f"{request.name}.",
                param="name",
                code="team_exists",
            )
        return record

    async def update_team(self, name: str, request: TeamUpdate) -> TeamRecord:
        # Last write wins between concurrent updates of one team: admin edits are rare.
        current = await self.get_team(name)
        changes: dict[str, object] = {"updated_at": utc(self._clock())}
        for field in request.model_fields_set:
            if field in ("allowed_models", "allowed_routes"):
                changes[field] = _normalised(getattr(request, field))
            elif field == "default_sensitivity":
                changes[field] = request.default_sensitivity
            elif field == "limits":
                merged = current.limits.model_dump() | request.limits.model_dump(exclude_unset=True)
                changes[field] = Limits.model_validate(merged)
        record = current.model_copy(update=changes)
        await _admin_call(self._store.put_team(record))
        return record

    async def get_team(self, name: str) -> TeamRecord:
        record = await _admin_call(self._store.get_team(name))
        if record is None:
            raise NotFound(f"No team named {name!r}.", param="team", code="team_not_found")
        return record

    async def list_teams(self) -> list[TeamRecord]:
        return await _admin_call(self._store.list_teams())

    async def create_key(self, request: KeyCreate) -> tuple[KeyRecord, str]:
        """The new key's record and its secret (the only time the secret exists in clear)."""
        await self.get_team(request.team)
        now = utc(self._clock())
        expires_at = request.expires_at
        if expires_at is None:
            days = request.expires_in_days or self._accounts.default_key_ttl_days
            expires_at = None if days is None else now + timedelta(days=days)
        elif expires_at <= now:
            raise InvalidRequest(
                f"expires_at {expires_at.isoformat()} is in the past; give a future instant.",
                param="expires_at",
            )
        for _ in range(_KEY_ID_ATTEMPTS):
            key_id = new_key_id()
            secret = new_secret(key_id)
            record = KeyRecord(
                key_id=key_id,
                key_hash=self._hasher.hash(secret),
                team=request.team,
                name=request.name,
                allowed_models=_normalised(request.allowed_models),
                allowed_routes=_normalised(request.allowed_routes),
                default_sensitivity=request.default_sensitivity,
                limits=request.limits,
                created_at=now,
                expires_at=expires_at,
            )
            if await _admin_call(self._store.create_key(record)):
                return record, secret
        raise RuntimeError(f"no free key id after {_KEY_ID_ATTEMPTS} attempts")

    async def get_key(self, key_id: str) -> KeyRecord:
        record = await _admin_call(self._store.get_key(key_id))
        if record is None:
            raise NotFound(f"No key with id {key_id!r}.", param="key_id", code="key_not_found")
        return record

    async def list_keys(self, team: str | None = None) -> list[KeyRecord]:
        keys = await _admin_call(self._store.list_keys())
        return [key for key in keys if team is None or key.team == team]

    async def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke at once (every replica reads the record per request); twice is a no-op."""
        record = await self.get_key(key_id)
        if record.revoked_at is not None:
            return record
        revoked = record.model_copy(update={"revoked_at": utc(self._clock())})
        await _admin_call(self._store.put_key(revoked))
        return revoked


async def _admin_call(awaitable: Awaitable[T]) -> T:
    # Admin operations have no fail-open mode: without the store nothing can be changed.
    try:
        return await awaitable
    except StoreUnavailable as exc:
        raise ServiceUnavailable(
            f"{exc.sentence_start}; accounts cannot be read or changed.",
            code="store_unavailable",
        ) from exc


def _normalised(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(sorted(set(values)))
