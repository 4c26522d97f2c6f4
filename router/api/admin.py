"""The admin API: teams, keys and spend under /admin, behind the admin token.

Thin HTTP over `AccessService.admin`; errors are domain exceptions mapped once by the app.
"""

from __future__ import annotations

import hmac
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
) -> None:
    """401 unless the bearer token equals the admin token (compared in constant time)."""
    settings = cast(Settings, request.app.state.settings)
    if settings.admin_token is None:
        raise PermissionDenied(
            "The admin API is disabled: set JUNCTION_ADMIN_TOKEN to enable it.",
            code="admin_disabled",
        )
    if credentials is None:
        raise AuthenticationFailed(
            "The admin API needs 'Authorization: Bearer <admin token>'.", code="invalid_admin_token"
        )
    expected = settings.admin_token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")


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
async def create_team(body: TeamCreate, access: Access) -> TeamRecord:
    """A team groups keys and carries allowed models and routes, a sensitivity floor, budgets
    and rate limits. 400 `team_exists` if the name is taken."""
    return await access.admin.create_team(body)


@router.patch("/teams/{team}", response_model=TeamRecord, summary="Update a team")
async def update_team(team: str, body: TeamUpdate, access: Access) -> TeamRecord:
    """Changes only the fields sent; `limits` is merged field by field. Takes effect on every
    replica at the next request."""
    return await access.admin.update_team(team, body)


@router.get("/teams", response_model=list[TeamRecord], summary="List teams")
async def list_teams(access: Access) -> list[TeamRecord]:
    return await access.admin.list_teams()


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the secret is returned once)",
)
async def create_key(body: KeyCreate, access: Access, response: Response) -> KeyCreated:
    """Only a hash of the secret is stored: keep `key` from this response, it cannot be shown
    again."""
    record, secret = await access.admin.create_key(body)
    response.headers["Cache-Control"] = "no-store"
    listed = KeyOut.of(record, access.now())
    return KeyCreated(**listed.model_dump(), key=secret)


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (never their secrets)")
async def list_keys(access: Access, team: TeamName | None = None) -> list[KeyOut]:
    now = access.now()
    return [KeyOut.of(record, now) for record in await access.admin.list_keys(team)]


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke an API key")
async def revoke_key(key_id: str, access: Access) -> KeyOut:
    """Effective at once on every replica; revoking a revoked key changes nothing."""
    record = await access.admin.revoke_key(key_id)
    return KeyOut.of(record, access.now())


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
