"""Wire models of the admin API: what an operator sends and what comes back.

Request models forbid unknown fields, so a typo is a 422 naming the field, not a silent no-op.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from router.accounts.models import (
    TEAM_NAME_PATTERN,
    BudgetLine,
    KeyRecord,
    KeyStatus,
    Limits,
    Scope,
    SpendReport,
    Window,
)
from router.classify.types import Sensitivity

_MODELS = "Models this team may use (None: any)."
_ROUTES = "Routes (policy route names) this team may use (None: any)."


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TEAM_NAME_PATTERN, description="Unique team name.")
    allowed_models: list[str] | None = Field(None, description=_MODELS)
    allowed_routes: list[str] | None = Field(None, description=_ROUTES)
    default_sensitivity: Sensitivity = Field(
        Sensitivity.NONE, description="Sensitivity floor applied to every request of the team."
    )
    limits: Limits = Field(default_factory=Limits, description="Budgets and rate limits.")


class TeamUpdate(BaseModel):
    """Only the fields present change; `limits` is merged field by field."""

    model_config = ConfigDict(extra="forbid")

    allowed_models: list[str] | None = Field(None, description=_MODELS)
    allowed_routes: list[str] | None = Field(None, description=_ROUTES)
    default_sensitivity: Sensitivity = Field(
        Sensitivity.NONE, description="Sensitivity floor applied to every request of the team."
    )
    limits: Limits = Field(default_factory=Limits, description="Limits to change.")


class KeyCreate(BaseModel):
    """A new key for a team; its own rules can only narrow the team's."""

    model_config = ConfigDict(extra="forbid")

    team: str = Field(pattern=TEAM_NAME_PATTERN, description="The team the key belongs to.")
    name: str | None = Field(None, max_length=200, description="A label for listings.")
    allowed_models: list[str] | None = Field(None, description="Narrows the team's models.")
    allowed_routes: list[str] | None = Field(None, description="Narrows the team's routes.")
    default_sensitivity: Sensitivity | None = Field(
        None, description="Raises the team's sensitivity floor for this key."
    )
    limits: Limits = Field(default_factory=Limits, description="The key's own limits.")
    expires_in_days: int | None = Field(
        None, ge=1, le=3650, description="Days until expiry (default: accounts setting)."
    )
    expires_at: AwareDatetime | None = Field(None, description="Expiry instant, with zone.")

    @field_validator("expires_at")
    @classmethod
    def _one_expiry(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and info.data.get("expires_in_days") is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return value


class KeyOut(BaseModel):
    """A key as listed: never its secret, never its hash."""

    key_id: str
    prefix: str = Field(description="The visible start of the secret, e.g. jk-abcd2345.")
    team: str
    name: str | None
    status: KeyStatus
    allowed_models: list[str] | None
    allowed_routes: list[str] | None
    default_sensitivity: Sensitivity | None
    limits: Limits
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: KeyRecord, now: datetime) -> KeyOut:
        return cls(
            key_id=record.key_id,
            prefix=record.prefix,
            team=record.team,
            name=record.name,
            status=record.status(now),
            allowed_models=_listed(record.allowed_models),
            allowed_routes=_listed(record.allowed_routes),
            default_sensitivity=record.default_sensitivity,
            limits=record.limits,
            created_at=record.created_at,
            expires_at=record.expires_at,
            revoked_at=record.revoked_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


class BudgetLineOut(BaseModel):
    scope: Scope
    owner: str
    window: Window
    period: str = Field(description="2025-01-31 for a day, 2025-01 for a month (UTC).")
    spent_usd: float
    reserved_usd: float = Field(description="Set aside by requests in flight.")
    limit_usd: float | None
    soft_limit_usd: float | None
    soft_exceeded: bool
    hard_exceeded: bool
    reset_at: datetime

    @classmethod
    def of(cls, line: BudgetLine) -> BudgetLineOut:
        return cls(
            scope=line.scope,
            owner=line.owner,
            window=line.window,
            period=line.period,
            spent_usd=line.spent_usd,
            reserved_usd=line.reserved_usd,
            limit_usd=line.limit_usd,
            soft_limit_usd=line.soft_limit_usd,
            soft_exceeded=line.soft_exceeded,
            hard_exceeded=line.hard_exceeded,
            reset_at=line.reset_at,
        )


class SpendOut(BaseModel):
    scope: Scope
    owner: str
    budgets: list[BudgetLineOut]

    @classmethod
    def of(cls, report: SpendReport) -> SpendOut:
        return cls(
            scope=report.scope,
            owner=report.owner,
            budgets=[BudgetLineOut.of(line) for line in report.lines],
        )


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)
