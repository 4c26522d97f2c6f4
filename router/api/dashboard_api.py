"""The dashboard's JSON: the request log and aggregates under /admin, for role viewer and up.

Thin HTTP over `router.store.requests`; the pages at /dashboard read the same functions.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request

from router.api.policy_admin import Viewer
from router.dashboard.wire import RequestDetail, RequestList, Summary
from router.errors import InvalidRequest, NotFound
from router.store.database import Database
from router.store.requests import (
    MAX_PAGE,
    Dimension,
    RecordFilter,
    get_record,
    list_records,
    summarize,
)
from router.store.state import DurableState

router = APIRouter(prefix="/admin", tags=["dashboard"])

Text = Annotated[str | None, Query(max_length=200)]
# Empty is "not given": the dashboard's filter form sends every field.
MAX_BUCKETS = 1000
STATUS = r"^([1-5][0-9][0-9]|[1-5]xx|error)?$"


async def _db(request: Request) -> Database:
    return cast(DurableState, request.app.state.durable).db


Db = Annotated[Database, Depends(_db)]


def record_filter(
    since: Annotated[float | None, Query(description="Unix seconds, inclusive.")] = None,
    until: Annotated[float | None, Query(description="Unix seconds, exclusive.")] = None,
    team: Text = None,
    key: Text = None,
    route: Text = None,
    model: Annotated[str | None, Query(max_length=200,
                                       description="The model that answered.")] = None,
    status: Annotated[str | None, Query(pattern=STATUS,
                                        description="429, 4xx or error (>= 400).")] = None,
    task: Text = None,
    sensitivity: Text = None,
) -> RecordFilter:
    if since is not None and until is not None and until <= since:
        raise InvalidRequest(f"until ({until}) must be after since ({since})", param="until")
    return RecordFilter(since=since, until=until, team=team or None, key_id=key or None,
                        route=route or None, model=model or None, status=status or None,
                        task=task or None, sensitivity=sensitivity or None)


Filter = Annotated[RecordFilter, Depends(record_filter)]


@router.get("/requests", response_model=RequestList,
            summary="The request log, newest first, filtered and paged")
async def requests(
    db: Db, _: Viewer, flt: Filter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> RequestList:
    return RequestList.of(await list_records(db, flt, limit, cursor))


@router.get("/requests/{request_id}", response_model=RequestDetail,
            summary="One request: its decision, attempts, timings, cost")
async def request_detail(request_id: str, db: Db, _: Viewer) -> RequestDetail:
    record = await get_record(db, request_id)
    if record is None:
        raise NotFound(f"no request {request_id!r} is stored (unknown, or past the record "
                       "retention)", param="request_id", code="request_not_found")
    logged = record.prompt is not None or record.completion is not None
    return RequestDetail(record=record, content_logged=logged)


@router.get("/summary", response_model=Summary,
            summary="Aggregates over the request records, grouped")
async def summary(
    db: Db, _: Viewer, flt: Filter,
    group_by: Annotated[str, Query(
        max_length=200, description="Comma-separated dimensions: "
        + ", ".join(d.value for d in Dimension) + "; empty for the totals.")] = "",
    step: Annotated[float | None, Query(gt=0, description="Bucket width in seconds, for "
                                        "group_by=time (default: the range / 60).")] = None,
    percentiles: Annotated[bool, Query(description="Include latency and first-token p50/p95 "
                                       "(two more passes over the records).")] = True,
) -> Summary:
    dims = _dimensions(group_by)
    until = flt.until if flt.until is not None else time.time()
    since = flt.since if flt.since is not None else until - 86400.0
    flt = replace(flt, since=since, until=until)
    if Dimension.TIME in dims and step is None:
        step = max((until - since) / 60.0, 1.0)
    if step is not None and (until - since) / step > MAX_BUCKETS:
        raise InvalidRequest(
            f"step: {step:g} s makes {int((until - since) / step)} time buckets between since "
            f"and until; at most {MAX_BUCKETS} are allowed", param="step")
    groups = await summarize(db, flt, dims, step, percentiles=percentiles)
    return Summary.of(since, until, [d.value for d in dims], step, groups)


def _dimensions(text: str) -> list[Dimension]:
    dims: list[Dimension] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            dim = Dimension(part)
        except ValueError:
            raise InvalidRequest(
                f"group_by: unknown dimension {part!r}; choose from "
                f"{', '.join(d.value for d in Dimension)}", param="group_by") from None
        if dim not in dims:
            dims.append(dim)
    if len(dims) > 3:
        raise InvalidRequest("group_by: at most 3 dimensions", param="group_by")
    return dims
