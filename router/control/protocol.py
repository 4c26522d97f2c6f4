"""Wire models of the policy admin API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from router.store.audit import AuditEntry
from router.store.policies import PolicyVersion


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class PolicyVersionOut(BaseModel):
    id: int
    hash: str = Field(description="SHA-256 of the YAML text; use it in If-Match.")
    comment: str | None
    created_by: str = Field(description="The admin token's name that stored it.")
    created_at: datetime
    activated_by: str | None = Field(description="Who activated it last (None: never).")
    activated_at: datetime | None
    active: bool
    yaml: str | None = Field(None, description="The policy text (single-version reads).")

    @classmethod
    def of(cls, version: PolicyVersion, active_id: int | None, *, with_yaml: bool
           ) -> PolicyVersionOut:
        return cls(
            id=version.id, hash=version.hash, comment=version.comment,
            created_by=version.created_by, created_at=_when(version.created_at),
            activated_by=version.activated_by, activated_at=_when(version.activated_at),
            active=version.id == active_id, yaml=version.yaml if with_yaml else None,
        )


class PolicyVersionList(BaseModel):
    data: list[PolicyVersionOut]


class PolicyPush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=1_000_000, description="The policy, as YAML.")
    comment: str | None = Field(None, max_length=2000, description="Why this version.")


class PolicyPushed(PolicyVersionOut):
    warnings: list[str] = Field(description="What `junction policy check` warns about.")


class PolicyDiff(BaseModel):
    id: int
    against: int
    diff: str = Field(description="A unified diff of the YAML texts (against -> id).")


class WhatIfRequest(BaseModel):
    """A candidate (a stored version or YAML) and a window of recorded requests."""

    model_config = ConfigDict(extra="forbid")

    version_id: int | None = Field(None, description="A stored version to try.")
    yaml: str | None = Field(None, min_length=1, max_length=1_000_000,
                             description="Or a policy text (validated as policy check does).")
    since: AwareDatetime | None = Field(None, description="Oldest record (default: any).")
    limit: int = Field(100_000, ge=1, le=1_000_000,
                       description="Most records replayed, newest first.")


class RouteCounts(BaseModel):
    before: dict[str, int]
    after: dict[str, int]


class CostDifference(BaseModel):
    before: float = Field(description="Dollars the window's requests cost as recorded.")
    after: float = Field(description="What the candidate's choices would cost, same tokens.")
    difference: float


class NewlyRejected(BaseModel):
    count: int
    by_code: dict[str, int]
    request_ids: list[str] = Field(description="The first 100.")


class FailClosed(BaseModel):
    count: int
    request_ids: list[str] = Field(description="The first 100.")


class SensitiveChange(BaseModel):
    request_id: str
    sensitivity: str
    before: list[str]
    after: list[str]


class SensitiveChanges(BaseModel):
    count: int
    requests: list[SensitiveChange] = Field(description="The first 100.")


class WhatIfResult(BaseModel):
    version_id: int | None
    requests: int = Field(description="Records replayed.")
    routes: RouteCounts
    models: RouteCounts
    cost_usd: CostDifference
    newly_rejected: NewlyRejected = Field(
        description="Served then, rejected by the candidate (by rejection code).")
    fail_closed: FailClosed = Field(
        description="Served by the candidate on a fail-closed route (no external fallback).")
    sensitive_candidates_changed: SensitiveChanges
    unknown_callers: int = Field(description="Records whose key no longer exists (replayed "
                                 "without its allow-lists).")
    seconds: float = Field(description="Wall time of the replay.")
    cpu_seconds: float = Field(description="CPU time of the gateway process meanwhile.")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="The admin token's name.")
    action: str = Field(description="e.g. policy.activate, key.revoke, team.update.")
    target: str = Field(description="e.g. policy:3, key:abcd2345, team:acme.")
    before: Any = None
    after: Any = None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(id=entry.id, at=_when(entry.at), actor=entry.actor,
                   action=entry.action, target=entry.target, before=entry.before,
                   after=entry.after)


class AuditList(BaseModel):
    data: list[AuditOut]
