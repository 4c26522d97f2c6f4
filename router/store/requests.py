"""Read queries over `request_records` for the dashboard and its admin API.

SQLAlchemy Core, one code path for SQLite and PostgreSQL: filters and aggregates run in SQL on
the indexed columns of migration 0003; only one record's detail parses its stored JSON.
Percentiles come from log-scale histograms counted in SQL (see `_percentiles`).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from router.errors import InvalidRequest
from router.stats.records import RequestRecord
from router.store.database import Database
from router.store.schema import request_records as rr

MAX_PAGE = 500
MAX_GROUPS = 5000
# Percentiles reported for latency and time to first token.
_QUANTILES = (("p50", 50), ("p95", 95))


class Dimension(StrEnum):
    """What `GET /admin/summary?group_by=` may group by."""

    TIME = "time"
    ROUTE = "route"
    MODEL = "model"
    TEAM = "team"
    KEY = "key"
    TASK = "task"
    SENSITIVITY = "sensitivity"
    STATUS = "status"
    SPILL_REASON = "spill_reason"
    SENSITIVE_WHERE = "sensitive_where"
    EXPLORATION = "exploration"
    POLICY_VERSION = "policy_version"


_COLUMN_OF: dict[Dimension, Any] = {
    Dimension.ROUTE: rr.c.route, Dimension.MODEL: rr.c.answered_by, Dimension.TEAM: rr.c.team,
    Dimension.KEY: rr.c.key_id, Dimension.TASK: rr.c.task,
    Dimension.SENSITIVITY: rr.c.sensitivity, Dimension.STATUS: rr.c.status,
    Dimension.SPILL_REASON: rr.c.spill_reason, Dimension.SENSITIVE_WHERE: rr.c.sensitive_where,
    Dimension.EXPLORATION: rr.c.exploration, Dimension.POLICY_VERSION: rr.c.policy_version,
}


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records: every field set must match; `status` is "200", "4xx" or "error"."""

    since: float | None = None
    until: float | None = None
    team: str | None = None
    key_id: str | None = None
    route: str | None = None
    model: str | None = None
    status: str | None = None
    task: str | None = None
    sensitivity: str | None = None

    def where(self) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if self.since is not None:
            parts.append(rr.c.time >= self.since)
        if self.until is not None:
            parts.append(rr.c.time < self.until)
        for value, column in ((self.team, rr.c.team), (self.key_id, rr.c.key_id),
                              (self.route, rr.c.route), (self.model, rr.c.answered_by),
                              (self.task, rr.c.task), (self.sensitivity, rr.c.sensitivity)):
            if value is not None:
                parts.append(column == value)
        if self.status is not None:
            parts.append(_status_clause(self.status))
        return and_(true(), *parts)


def _status_clause(status: str) -> ColumnElement[bool]:
    if status == "error":
        return rr.c.status >= 400
    if len(status) == 3 and status[0] in "12345" and status[1:] == "xx":
        low = int(status[0]) * 100
        return and_(rr.c.status >= low, rr.c.status < low + 100)
    if len(status) == 3 and status.isdigit():
        return rr.c.status == int(status)
    raise InvalidRequest(f"status must be an HTTP status (429), a class (4xx) or 'error'; got "
                         f"{status!r}", param="status")


# -- the request log ------------------------------------------------------------------------

LIST_COLUMNS = (rr.c.request_id, rr.c.time, rr.c.team, rr.c.key_id, rr.c.route,
                rr.c.answered_by, rr.c.status, rr.c.cost_usd, rr.c.task, rr.c.sensitivity,
                rr.c.tokens_in, rr.c.tokens_out, rr.c.total_ms, rr.c.ttft_ms, rr.c.streamed,
                rr.c.exploration, rr.c.spill_reason, rr.c.answered_local, rr.c.sent_external)


@dataclass(frozen=True, slots=True)
class RecordPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None


async def list_records(db: Database, flt: RecordFilter, limit: int = 50,
                       cursor: str | None = None) -> RecordPage:
    """Newest first, `limit` (at most `MAX_PAGE`) at a time; `next_cursor` continues."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(*LIST_COLUMNS).where(flt.where())
    if cursor is not None:
        at, request_id = _decode_cursor(cursor)
        query = query.where(or_(rr.c.time < at,
                                and_(rr.c.time == at, rr.c.request_id < request_id)))
    query = query.order_by(rr.c.time.desc(), rr.c.request_id.desc()).limit(limit + 1)
    rows = [dict(row._mapping) for row in await db.fetch(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    following = _encode_cursor(rows[-1]["time"], rows[-1]["request_id"]) if more else None
    return RecordPage(rows, following)


async def get_record(db: Database, request_id: str) -> RequestRecord | None:
    rows = await db.fetch(select(rr.c.record).where(rr.c.request_id == request_id))
    return RequestRecord.model_validate_json(rows[0][0]) if rows else None


def _encode_cursor(at: float, request_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at!r}|{request_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        at, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(at), request_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("cursor is not one this API returned (next_cursor); start "
                             "without it", param="cursor") from None


# -- aggregates -----------------------------------------------------------------------------

@dataclass(slots=True)
class Totals:
    """The measures of one group (or of everything)."""

    requests: int = 0
    errors: int = 0
    refused: int = 0
    cost_usd: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    answered_local: int = 0
    spilled: int = 0
    sensitive: int = 0
    sensitive_local: int = 0
    sensitive_refused: int = 0
    sensitive_sent_external: int = 0
    egress_refused: int = 0
    exploration: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    ttft_ms: dict[str, float] = field(default_factory=dict)


def combined(groups: Sequence[Group]) -> Totals:
    """The counts and sums of several groups together (percentiles do not add up: none)."""
    out = Totals()
    for group in groups:
        for name in _COUNTS:
            setattr(out, name, getattr(out, name) + getattr(group.totals, name))
        out.cost_usd += group.totals.cost_usd
    return out


@dataclass(slots=True)
class Group:
    key: dict[str, Any]
    totals: Totals


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _measures(names: Collection[str] | None) -> list[Any]:
    sensitive = and_(rr.c.sensitivity.is_not(None), rr.c.sensitivity != "none")
    refused = and_(rr.c.answered_by.is_(None), rr.c.status >= 400)
    every = [
        func.count().label("requests"),
        _flag(rr.c.status >= 400).label("errors"),
        _flag(refused).label("refused"),
        func.coalesce(func.sum(rr.c.cost_usd), 0.0).label("cost_usd"),
        func.coalesce(func.sum(rr.c.tokens_in), 0).label("tokens_in"),
        func.coalesce(func.sum(rr.c.tokens_out), 0).label("tokens_out"),
        _flag(rr.c.answered_local == true()).label("answered_local"),
        _flag(rr.c.spill_reason.is_not(None)).label("spilled"),
        _flag(sensitive).label("sensitive"),
        _flag(and_(sensitive, rr.c.answered_local == true())).label("sensitive_local"),
        _flag(and_(sensitive, refused)).label("sensitive_refused"),
        _flag(and_(sensitive, rr.c.sent_external == true())).label("sensitive_sent_external"),
        _flag(rr.c.egress_refused == true()).label("egress_refused"),
        _flag(rr.c.exploration == true()).label("exploration"),
    ]
    return [m for m in every if names is None or m.name in names or m.name == "requests"]


def _group_columns(group_by: Sequence[Dimension], since: float, step: float) -> list[Any]:
    columns: list[Any] = []
    for dim in group_by:
        if dim is Dimension.TIME:
            columns.append(cast(func.floor((rr.c.time - since) / step), Integer).label("time"))
        elif dim in _TEXT:
            # coalesce() keeps SQLite from walking a (task, time) index to group, which
            # would read every row; the covering summary index is read instead.
            columns.append(func.coalesce(_COLUMN_OF[dim], "").label(dim.value))
        else:
            columns.append((_COLUMN_OF[dim] + 0).label(dim.value) if dim in _NUMBER
                           else _COLUMN_OF[dim].label(dim.value))
    return columns


_TEXT = frozenset({Dimension.ROUTE, Dimension.MODEL, Dimension.TEAM, Dimension.KEY,
                   Dimension.TASK, Dimension.SENSITIVITY, Dimension.SPILL_REASON,
                   Dimension.SENSITIVE_WHERE})
_NUMBER = frozenset({Dimension.STATUS, Dimension.POLICY_VERSION})


async def summarize(db: Database, flt: RecordFilter, group_by: Sequence[Dimension] = (),
                    step: float | None = None, *, percentiles: bool = True,
                    measures: Collection[str] | None = None) -> list[Group]:
    """The measures per group (one group, key {}, without `group_by`), with latency
    percentiles unless `percentiles` is False (they cost two more passes). Grouping by time
    needs `flt.since` and `step` (seconds); the key is the bucket's start in Unix seconds.
    `measures` names the `Totals` fields to compute (each is a sum over every row; the pages
    ask only for what they show); the others stay 0."""
    since = flt.since if flt.since is not None else 0.0
    if Dimension.TIME in group_by and (flt.since is None or not step or step <= 0):
        raise InvalidRequest("group_by=time needs since and a positive step (seconds)",
                             param="step")
    step = step or 1.0
    keys = _group_columns(group_by, since, step)
    query = select(*keys, *_measures(measures)).where(flt.where())
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    rows = await db.fetch(query.limit(MAX_GROUPS))
    names = [dim.value for dim in group_by]
    groups: dict[tuple[Any, ...], Group] = {}
    for row in rows:
        data = row._mapping
        key = tuple(data[name] for name in names)
        if not keys and not data["requests"]:
            return [Group({}, Totals())]
        counts: dict[str, Any] = {name: int(data[name]) for name in _COUNTS if name in data}
        totals = Totals(cost_usd=float(data.get("cost_usd", 0.0)), **counts)
        groups[key] = Group(_key(names, key, since, step), totals)
    if percentiles:
        await _percentiles(db, flt, group_by, since, step, groups)
    return list(groups.values())


_COUNTS = ("requests", "errors", "refused", "tokens_in", "tokens_out", "answered_local", "spilled",
           "sensitive", "sensitive_local", "sensitive_refused", "sensitive_sent_external",
           "egress_refused", "exploration")


def _key(names: list[str], key: tuple[Any, ...], since: float, step: float) -> dict[str, Any]:
    out = {name: None if value == "" else value
           for name, value in zip(names, key, strict=True)}
    if "time" in out:
        out["time"] = since + int(out["time"] or 0) * step
    if "exploration" in out and out["exploration"] is not None:
        out["exploration"] = bool(out["exploration"])
    return out


async def _percentiles(db: Database, flt: RecordFilter, group_by: Sequence[Dimension],
                       since: float, step: float, groups: dict[tuple[Any, ...], Group]) -> None:
    """p50 and p95 of total and first-token time per group, from a log-scale histogram
    counted in SQL (buckets 1/8 of an e-fold wide, about 13 %; interpolated inside), so one
    pass over the rows serves any grouping on both databases."""
    names = [dim.value for dim in group_by]
    for column, attribute in ((rr.c.total_ms, "latency_ms"), (rr.c.ttft_ms, "ttft_ms")):
        keys = _group_columns(group_by, since, step)
        bucket = cast(func.floor(func.ln(column + 1.0) * _PER_E_FOLD), Integer).label("bucket")
        query = (select(*keys, bucket, func.count().label("n"))
                 .where(flt.where(), column.is_not(None), rr.c.answered_by.is_not(None))
                 .group_by(*keys, bucket))
        histograms: dict[tuple[Any, ...], dict[int, int]] = {}
        for row in await db.fetch(query):
            data = row._mapping
            counts = histograms.setdefault(tuple(data[name] for name in names), {})
            counts[int(data["bucket"])] = int(data["n"])
        for key, counts in histograms.items():
            group = groups.get(key)
            if group is not None:
                target = getattr(group.totals, attribute)
                for label, q in _QUANTILES:
                    target[label] = round(_quantile(counts, q / 100.0), 1)


_PER_E_FOLD = 8


def _quantile(counts: dict[int, int], q: float) -> float:
    """The q-quantile of a histogram of floor(ln(1 + ms) * 8) buckets, interpolated."""
    total = sum(counts.values())
    rank = q * total
    seen = 0
    for bucket in sorted(counts):
        n = counts[bucket]
        if seen + n >= rank:
            fraction = (rank - seen) / n if n else 0.0
            log_ms = (bucket + fraction) / _PER_E_FOLD
            return max(math.exp(log_ms) - 1.0, 0.0)
        seen += n
    return max(math.exp((max(counts) + 1) / _PER_E_FOLD) - 1.0, 0.0)
