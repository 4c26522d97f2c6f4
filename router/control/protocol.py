"""Wire models of the policy admin API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
