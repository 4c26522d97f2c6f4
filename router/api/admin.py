"""The admin API: teams, keys and spend under /admin, behind the admin token.

Thin HTTP over `AccessService.admin`; errors are domain exceptions mapped once by the app.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from router.accounts.admin_wire import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    SpendOut,
    TeamCreate,
    TeamUpdate,
)
from router.accounts.models import KEY_ID_PATTERN, TEAM_NAME_PATTERN, TeamRecord
from router.accounts.service import AccessService
from router.control.roles import Actor, Role, admin_tokens, resolve
from router.control.service import PolicyControl
from router.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from router.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="The admin token (JUNCTION_ADMIN_TOKEN), not a Junction API key.",
)


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Reads need any admin token (viewer and up); changes to keys and teams need role admin."""
    needed = Role.VIEWER if request.method in ("GET", "HEAD") else Role.ADMIN
    return authenticate_admin(request, credentials, needed)


def authenticate_admin(
    request: Request, credentials: HTTPAuthorizationCredentials | None, needed: Role
) -> Actor:
    """The actor behind the bearer token: 401 if it is no admin token, 403 if its role is
    below `needed`. Tokens are compared in constant time."""
    settings = cast(Settings, request.app.state.settings)
    tokens = admin_tokens(settings.admin_token, settings.admin_tokens)
    if not tokens:
        raise PermissionDenied(
            "The admin API is disabled: set JUNCTION_ADMIN_TOKEN (or JUNCTION_ADMIN_TOKENS) to "
            "enable it.",
            code="admin_disabled",
        )
    if credentials is None:
        raise AuthenticationFailed(
            "The admin API needs 'Authorization: Bearer <admin token>'.", code="invalid_admin_token"
        )
    actor = resolve(credentials.credentials, tokens)
    if actor is None:
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")
    if actor.role < needed:
        raise PermissionDenied(
            f"{request.method} {request.url.path} needs role {needed.label}; token "
            f"{actor.name!r} has role {actor.role.label}.",
            code="role_forbidden",
        )
    request.state.actor = actor
    return actor


class _Unaudited:
    """For this router mounted without the control plane (the accounts API on its own)."""

    async def accounts_changed(self, actor: str, action: str, target: str, *,
                               before: object = None, after: object = None) -> None:
        return None


async def _changes(request: Request) -> PolicyControl | _Unaudited:
    control = getattr(request.app.state, "control", None)
    return control if isinstance(control, PolicyControl) else _Unaudited()


Changes = Annotated[PolicyControl | _Unaudited, Depends(_changes)]
Admin = Annotated[Actor, Depends(require_admin)]


async def _access(request: Request) -> AccessService:
    return cast(AccessService, request.app.state.access)


Access = Annotated[AccessService, Depends(_access)]
TeamName = Annotated[str, Query(pattern=TEAM_NAME_PATTERN)]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/teams",
    response_model=TeamRecord,
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
)
async def create_team(body: TeamCreate, access: Access, actor: Admin,
                      changes: Changes) -> TeamRecord:
    """A team groups keys and carries allowed models and routes, a sensitivity floor, budgets
    and rate limits. 400 `team_exists` if the name is taken."""
    record = await access.admin.create_team(body)
    await changes.accounts_changed(actor.name, "team.create", f"team:{record.name}",
                                   after=record.model_dump(mode="json"))
    return record


@router.patch("/teams/{team}", response_model=TeamRecord, summary="Update a team")
async def update_team(team: str, body: TeamUpdate, access: Access, actor: Admin,
                      changes: Changes) -> TeamRecord:
    """Changes only the fields sent; `limits` is merged field by field. Takes effect on every
    replica at the next request."""
    before = await access.admin.get_team(team)
    record = await access.admin.update_team(team, body)
    await changes.accounts_changed(actor.name, "team.update", f"team:{team}",
                                   before=before.model_dump(mode="json"),
                                   after=record.model_dump(mode="json"))
    return record


@router.get("/teams", response_model=list[TeamRecord], summary="List teams")
async def list_teams(access: Access) -> list[TeamRecord]:
    return await access.admin.list_teams()


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the secret is returned once)",
)
async def create_key(body: KeyCreate, access: Access, response: Response, actor: Admin,
                     changes: Changes) -> KeyCreated:
    """Only a hash of the secret is stored: keep `key` from this response, it cannot be shown
    again."""
    record, secret = await access.admin.create_key(body)
    response.headers["Cache-Control"] = "no-store"
    listed = KeyOut.of(record, access.now())
    # The audit log gets the key as listed: no secret, no hash.
    await changes.accounts_changed(actor.name, "key.create", f"key:{record.key_id}",
                                   after=listed.model_dump(mode="json"))
    return KeyCreated(**listed.model_dump(), key=secret)


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (never their secrets)")
async def list_keys(access: Access, team: TeamName | None = None) -> list[KeyOut]:
    now = access.now()
    return [KeyOut.of(record, now) for record in await access.admin.list_keys(team)]


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke an API key")
async def revoke_key(key_id: str, access: Access, actor: Admin, changes: Changes) -> KeyOut:
    """Effective at once on every replica; revoking a revoked key changes nothing."""
    before = KeyOut.of(await access.admin.get_key(key_id), access.now())
    record = await access.admin.revoke_key(key_id)
    after = KeyOut.of(record, access.now())
    if before.revoked_at is None:
        await changes.accounts_changed(actor.name, "key.revoke", f"key:{key_id}",
                                       before=before.model_dump(mode="json"),
                                       after=after.model_dump(mode="json"))
    return after


@router.get("/spend", response_model=SpendOut, summary="Read a key's or a team's spend")
async def read_spend(
    access: Access,
    team: TeamName | None = None,
    key_id: Annotated[str | None, Query(pattern=KEY_ID_PATTERN)] = None,
) -> SpendOut:
    """Spend, live reservations and limits for the current UTC day and month. Give exactly
    one of `team` or `key_id`."""
    if (team is None) == (key_id is None):
        # The same rule, status and shape as feedback's "exactly one of score and thumbs".
        raise InvalidRequest("give exactly one of the query parameters team or key_id",
                             param="team" if team is None else "key_id")
    return SpendOut.of(await access.spend(key_id=key_id, team=team))
