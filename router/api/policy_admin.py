"""The policy admin API under /admin/policy and the audit log, by role: viewer reads, editor
stores versions and runs what-if, admin activates and rolls back.

Thin HTTP over `PolicyControl`; errors are domain exceptions mapped once by the app.
"""

from __future__ import annotations

import difflib
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from router.accounts.service import AccessService
from router.api.admin import _bearer, authenticate_admin
from router.control.protocol import (
    AuditList,
    AuditOut,
    PolicyDiff,
    PolicyPush,
    PolicyPushed,
    PolicyVersionList,
    PolicyVersionOut,
    WhatIfRequest,
    WhatIfResult,
)
from router.control.roles import Actor, Role
from router.control.service import PolicyControl
from router.control.whatif import principal_lookup

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _role(needed: Role) -> object:
    def dependency(request: Request, credentials: Credentials) -> Actor:
        return authenticate_admin(request, credentials, needed)

    return Depends(dependency)


Viewer = Annotated[Actor, _role(Role.VIEWER)]
Editor = Annotated[Actor, _role(Role.EDITOR)]
Admin = Annotated[Actor, _role(Role.ADMIN)]


async def _control(request: Request) -> PolicyControl:
    return cast(PolicyControl, request.app.state.control)


Control = Annotated[PolicyControl, Depends(_control)]

router = APIRouter(prefix="/admin", tags=["policy admin"])


@router.get("/policy", response_model=PolicyVersionOut, summary="The active policy version")
async def active_policy(control: Control, _: Viewer) -> PolicyVersionOut:
    version = await control.active()
    return PolicyVersionOut.of(version, version.id, with_yaml=True)


@router.get("/policy/versions", response_model=PolicyVersionList,
            summary="Every stored policy version (without their text)")
async def list_versions(control: Control, _: Viewer) -> PolicyVersionList:
    active = await control.store.active()
    active_id = active.id if active else None
    return PolicyVersionList(data=[
        PolicyVersionOut.of(v, active_id, with_yaml=False) for v in await control.store.versions()
    ])


@router.get("/policy/versions/{version_id}", response_model=PolicyVersionOut,
            summary="One policy version, with its text")
async def get_version(version_id: int, control: Control, _: Viewer) -> PolicyVersionOut:
    version = await control.version(version_id)
    active = await control.store.active()
    return PolicyVersionOut.of(version, active.id if active else None, with_yaml=True)


@router.post("/policy/versions", response_model=PolicyPushed,
             status_code=status.HTTP_201_CREATED,
             summary="Validate and store a policy version (not activated)")
async def push_version(body: PolicyPush, control: Control, actor: Editor) -> PolicyPushed:
    """Validated as `junction policy check` does: 422 `invalid_policy` lists every error (with
    line and key path) in `error.junction.errors`; warnings come back with the version."""
    version, checked = await control.push(body.yaml, body.comment, actor.name)
    active = await control.store.active()
    out = PolicyVersionOut.of(version, active.id if active else None, with_yaml=False)
    return PolicyPushed(**out.model_dump(), warnings=list(checked.warnings))


@router.get("/policy/versions/{version_id}/diff", response_model=PolicyDiff,
            summary="A unified diff of two versions' YAML")
async def diff_versions(
    version_id: int, control: Control, _: Viewer,
    against: Annotated[int, Query(description="The version to compare with.")],
) -> PolicyDiff:
    new = await control.version(version_id)
    old = await control.version(against)
    diff = difflib.unified_diff(
        old.yaml.splitlines(keepends=True), new.yaml.splitlines(keepends=True),
        fromfile=f"version {old.id}", tofile=f"version {new.id}",
    )
    return PolicyDiff(id=new.id, against=old.id, diff="".join(diff))


@router.post("/policy/versions/{version_id}/activate", response_model=PolicyVersionOut,
             summary="Activate a version on every replica (within 1 s)")
async def activate_version(
    version_id: int, control: Control, actor: Admin,
    if_match: Annotated[str | None, Header(description="The active version's hash.")] = None,
) -> PolicyVersionOut:
    """Requests in flight finish on the old policy. 412 `policy_changed` when If-Match is not
    the active hash; 422 when the version cannot be served (the old one keeps serving)."""
    version = await control.activate(version_id, actor.name, if_match)
    return PolicyVersionOut.of(version, version.id, with_yaml=False)


@router.post("/policy/rollback", response_model=PolicyVersionOut,
             summary="Back to the previously active version")
async def rollback(control: Control, actor: Admin) -> PolicyVersionOut:
    version = await control.rollback(actor.name)
    return PolicyVersionOut.of(version, version.id, with_yaml=False)


@router.post("/policy/whatif", response_model=WhatIfResult,
             summary="Replay recorded requests through a candidate policy")
async def whatif(body: WhatIfRequest, control: Control, request: Request,
                 _: Editor) -> WhatIfResult:
    """No model is called and no prompt text is read: each record's classification and
    caller go through the candidate's decision; the answer compares it with what was decided
    (routes, models, cost, newly rejected, fail-closed, sensitive requests whose candidates
    change)."""
    access = cast(AccessService, request.app.state.access)
    version_id, report = await control.what_if(
        version_id=body.version_id, text=body.yaml,
        since=body.since.timestamp() if body.since else 0.0, limit=body.limit,
        principal_of=principal_lookup(access),
    )
    return WhatIfResult.model_validate({"version_id": version_id, **report.to_dict()})


@router.get("/audit", response_model=AuditList,
            summary="Changes to policies, keys and teams: who, when, what, before and after")
async def audit(
    control: Control, _: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    target: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditList:
    entries = await control.audit.entries(limit, target)
    return AuditList(data=[AuditOut.of(entry) for entry in entries])
