"""The dashboard admin API's response bodies (`GET /admin/requests`, `/admin/summary`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from router.stats.records import RequestRecord
from router.store.requests import Group, RecordPage


class RequestRow(BaseModel):
    """One request as the log lists it (no content, no decision: see the detail)."""

    request_id: str
    time: float = Field(description="Unix seconds when the request arrived.")
    team: str | None
    key_id: str | None
    route: str
    answered_by: str | None
    status: int
    cost_usd: float
    task: str | None
    sensitivity: str | None
    tokens_in: int | None
    tokens_out: int | None
    total_ms: float | None
    ttft_ms: float | None
    streamed: bool | None
    exploration: bool | None
    spill_reason: str | None
    answered_local: bool | None
    sent_external: bool | None


class RequestList(BaseModel):
    data: list[RequestRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page.")

    @classmethod
    def of(cls, page: RecordPage) -> RequestList:
        return cls(data=[RequestRow.model_validate(row) for row in page.rows],
                   next_cursor=page.next_cursor)


class RequestDetail(BaseModel):
    """The whole record: decision (explain view), attempts, timings, cost; prompt and
    completion only when content logging was on when it was served."""

    record: RequestRecord
    content_logged: bool


class Measures(BaseModel):
    requests: int
    errors: int = Field(description="Status 400 or above.")
    refused: int = Field(description="Errors no model answered (policy or egress refusals, "
                                     "no model available).")
    cost_usd: float
    tokens_in: int
    tokens_out: int
    answered_local: int
    spilled: int = Field(description="Requests whose first choice did not answer.")
    sensitive: int
    sensitive_local: int
    sensitive_refused: int
    sensitive_sent_external: int = Field(
        description="Sensitive requests any attempt sent to an external model; must be 0.")
    egress_refused: int
    exploration: int
    latency_ms: dict[str, float] = Field(description="p50 and p95 of total time.")
    ttft_ms: dict[str, float] = Field(description="p50 and p95 of time to first token.")


class SummaryGroup(BaseModel):
    key: dict[str, Any] = Field(
        description="The value of each group_by dimension; time is the bucket's start.")
    measures: Measures


class Summary(BaseModel):
    since: float
    until: float
    group_by: list[str]
    step_s: float | None
    groups: list[SummaryGroup]

    @classmethod
    def of(cls, since: float, until: float, group_by: list[str], step: float | None,
           groups: list[Group]) -> Summary:
        return cls(since=since, until=until, group_by=group_by, step_s=step, groups=[
            SummaryGroup(key=g.key,
                         measures=Measures.model_validate(g.totals, from_attributes=True))
            for g in groups])
