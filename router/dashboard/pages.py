"""What each dashboard page shows, as plain data for its template: tables and chart specs.

Aggregates come from `router.store.requests` (SQL over the records); Speed adds the local
probe's live load, Quality the live posterior, Money the budgets and the reference price.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.accounts.models import SpendReport
from router.accounts.service import AccessService
from router.classify.types import Task
from router.errors import NotFound
from router.runtime import PolicyRuntime
from router.stats.store import StatsStore
from router.store.database import Database
from router.store.requests import Dimension, Group, RecordFilter, Totals, combined, summarize

RANGES = {"15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000}
REFRESH = (0, 10, 30, 60)
PAGES = (("traffic", "Traffic"), ("money", "Money"), ("speed", "Speed"),
         ("protection", "Data protection"), ("quality", "Quality"), ("requests", "Request log"))


@dataclass(frozen=True, slots=True)
class Sources:
    """Everything the pages read; built per request from app.state."""

    db: Database
    runtime: PolicyRuntime
    stats: StatsStore
    access: AccessService


@dataclass(frozen=True, slots=True)
class Window:
    since: float
    until: float
    step: float

    @classmethod
    def last(cls, range_name: str, now: float | None = None) -> Window:
        until = time.time() if now is None else now
        span = RANGES[range_name]
        return cls(until - span, until, span / 60.0)

    def label(self, at: float) -> str:
        fmt = "%H:%M" if self.until - self.since <= 86400 else "%m-%d %H:%M"
        return datetime.fromtimestamp(at, UTC).strftime(fmt)


def _series(window: Window, groups: list[Group], dim: str, measure: str = "requests",
            kind: str = "line") -> dict[str, Any]:
    """A chart spec of `measure` over time, one dataset per value of `dim` (summed over the
    groups' other dimensions)."""
    buckets = [window.since + i * window.step for i in range(60)]
    values: dict[str, list[float]] = defaultdict(lambda: [0.0] * 60)
    for group in groups:
        index = round((group.key["time"] - window.since) / window.step)
        if 0 <= index < 60:
            values[str(group.key[dim] or "none")][index] += float(getattr(group.totals, measure))
    return {"type": kind, "stacked": kind == "bar", "labels": [window.label(b) for b in buckets],
            "datasets": [{"label": name, "data": data} for name, data in sorted(values.items())]}


def _bars(labels: list[str], datasets: dict[str, list[float]], horizontal: bool = False
          ) -> dict[str, Any]:
    return {"type": "bar", "labels": labels, "horizontal": horizontal,
            "datasets": [{"label": name, "data": data} for name, data in datasets.items()]}


def _by(groups: list[Group], dim: str) -> list[tuple[Any, Totals]]:
    """The groups summed by one of their dimensions, largest first."""
    parts: dict[Any, list[Group]] = defaultdict(list)
    for group in groups:
        parts[group.key[dim]].append(group)
    return sorted(((key, combined(gs)) for key, gs in parts.items()),
                  key=lambda kv: -kv[1].requests)


def _budget_lines(report: SpendReport) -> list[dict[str, Any]]:
    return [{"scope": line.scope.value, "owner": line.owner, "window": line.window.value,
             "period": line.period, "spent_usd": line.spent_usd, "limit_usd": line.limit_usd,
             "share": line.spent_usd / line.limit_usd if line.limit_usd else 0.0}
            for line in report.lines]


def _by_cost(rows: list[tuple[Any, Totals]]) -> list[tuple[Any, Totals]]:
    return sorted(rows, key=lambda kv: -kv[1].cost_usd)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# Each page reads the fewest passes over the records it can: totals are the sum of any
# grouping, and two groupings come from one finer one.

async def traffic(src: Sources, window: Window) -> dict[str, Any]:
    flt = RecordFilter(since=window.since, until=window.until)
    over_time = await summarize(src.db, flt, [Dimension.TIME, Dimension.ROUTE, Dimension.MODEL],
                                window.step, percentiles=False, measures=())
    outcomes = await summarize(src.db, flt, [Dimension.STATUS, Dimension.SPILL_REASON],
                               percentiles=False, measures=("errors", "answered_local",
                                                            "spilled"))
    total = combined(outcomes)
    spill_rows = [(reason, t.requests) for reason, t in _by(outcomes, "spill_reason")
                  if reason is not None]
    error_rows = sorted((status, t.requests) for status, t in _by(outcomes, "status")
                        if status >= 400)
    return {
        "total": total,
        "local_share": _share(total.answered_local, total.requests),
        "spill_rows": spill_rows,
        "error_rows": error_rows,
        "charts": {
            "per_route": _series(window, over_time, "route"),
            "per_model": _series(window, over_time, "model"),
            "spills": _bars([r for r, _ in spill_rows],
                            {"spill-overs": [n for _, n in spill_rows]}),
            "errors": _bars([str(s) for s, _ in error_rows],
                            {"requests": [n for _, n in error_rows]}),
        },
    }


async def money(src: Sources, window: Window) -> dict[str, Any]:
    flt = RecordFilter(since=window.since, until=window.until)
    owners = await summarize(src.db, flt, [Dimension.TEAM, Dimension.KEY], percentiles=False,
                             measures=("cost_usd",))
    tasks = await summarize(src.db, flt, [Dimension.TASK], percentiles=False,
                            measures=("cost_usd", "tokens_in", "tokens_out"))
    total = combined(tasks)
    policy = src.runtime.policy
    reference = policy.reporting.reference_model if policy.reporting else None
    reference_cost = None
    if reference is not None:
        price = src.runtime.signals.price(reference)
        reference_cost = price.cost(total.tokens_in, total.tokens_out)
    team_rows = _by_cost(_by(owners, "team"))
    key_rows = _by_cost(_by(owners, "key"))[:50]
    budgets = [line for team in await src.access.admin.list_teams()
               for line in _budget_lines(await src.access.spend(team=team.name))]
    for key_id, _ in key_rows:
        if key_id is not None:
            try:
                report = await src.access.spend(key_id=str(key_id))
            except NotFound:  # revoked and gone, or never a key of this gateway
                continue
            # A key's lines include its team's; the team's are listed above.
            budgets += [line for line in _budget_lines(report)
                        if line["scope"] == "key" and line["limit_usd"] is not None]
    task_rows = sorted(((g.key["task"], g.totals) for g in tasks), key=lambda kv: -kv[1].cost_usd)
    return {
        "total": total, "reference": reference, "reference_cost": reference_cost,
        "saving": None if reference_cost is None else reference_cost - total.cost_usd,
        "team_rows": team_rows, "key_rows": key_rows, "task_rows": task_rows,
        "budgets": budgets,
        "charts": {
            "per_team": _bars([str(k or "none") for k, _ in team_rows],
                              {"spend (USD)": [round(t.cost_usd, 6) for _, t in team_rows]}),
            "per_task": _bars([str(k or "unknown") for k, _ in task_rows],
                              {"spend (USD)": [round(t.cost_usd, 6) for _, t in task_rows]}),
        },
    }


async def speed(src: Sources, window: Window) -> dict[str, Any]:
    flt = RecordFilter(since=window.since, until=window.until)
    models = [g for g in await summarize(src.db, flt, [Dimension.MODEL], measures=())
              if g.key["model"] is not None]
    local = []
    capacity = src.runtime.capacity
    for name, spec in src.runtime.policy.models.items():
        if spec.backend == "local":
            load = capacity.describe(name)
            local.append({"model": name, "waiting": None if load is None else load["waiting"],
                          "running": None if load is None else load["running"],
                          "kv_cache_usage": None if load is None else load["kv_cache_usage"]})
    labels = [str(g.key["model"]) for g in models]
    return {
        "model_rows": models, "local": local,
        "charts": {
            "latency": _bars(labels, {
                "p50 total (ms)": [g.totals.latency_ms.get("p50", 0.0) for g in models],
                "p95 total (ms)": [g.totals.latency_ms.get("p95", 0.0) for g in models]}),
            "ttft": _bars(labels, {
                "p50 first token (ms)": [g.totals.ttft_ms.get("p50", 0.0) for g in models],
                "p95 first token (ms)": [g.totals.ttft_ms.get("p95", 0.0) for g in models]}),
        },
    }


async def protection(src: Sources, window: Window) -> dict[str, Any]:
    flt = RecordFilter(since=window.since, until=window.until)
    found = await summarize(src.db, flt, [Dimension.SENSITIVITY, Dimension.SENSITIVE_WHERE],
                            percentiles=False, measures=(
                                "sensitive", "sensitive_local", "sensitive_refused",
                                "sensitive_sent_external", "egress_refused"))
    total = combined(found)
    levels = [(level, t) for level, t in _by(found, "sensitivity")
              if level not in (None, "none")]
    kinds: dict[str, int] = defaultdict(int)
    fields: dict[tuple[str, str], int] = defaultdict(int)
    for where, totals in _by(found, "sensitive_where"):
        pairs = [p.partition("@") for p in (where or "").split(",") if p]
        for kind, _, path in pairs:
            fields[(kind, path or "(not located)")] += totals.requests
        for kind in {kind for kind, _, _ in pairs}:
            kinds[kind] += totals.requests
    kind_rows = sorted(kinds.items(), key=lambda kv: -kv[1])
    return {
        "total": total, "level_rows": levels, "kind_rows": kind_rows,
        "field_rows": sorted(fields.items(), key=lambda kv: -kv[1])[:50],
        "charts": {
            "kinds": _bars([k for k, _ in kind_rows], {"requests": [n for _, n in kind_rows]}),
            "outcome": _bars(["served locally", "refused", "sent outside"], {"sensitive requests": [
                total.sensitive_local, total.sensitive_refused, total.sensitive_sent_external]}),
        },
    }


async def quality(src: Sources, window: Window) -> dict[str, Any]:
    flt = RecordFilter(since=window.since, until=window.until)
    book = src.stats.quality_book
    models = sorted(src.runtime.policy.models)
    rows: list[dict[str, Any]] = []
    for task in Task:
        for model in models:
            estimate = book.quality(task.value, model)
            rows.append({"task": task.value, "model": model, "mean": estimate.mean,
                         "lower": estimate.lower, "upper": estimate.upper,
                         "feedback": estimate.n})
    routes = await summarize(src.db, flt, [Dimension.ROUTE], percentiles=False,
                             measures=("exploration",))
    total = combined(routes)
    return {
        "rows": rows, "route_rows": routes, "total": total,
        "exploration_share": _share(total.exploration, total.requests),
        "feedback_total": sum(r["feedback"] for r in rows),
        "charts": {"posterior": _bars(
            [f"{r['task']} / {r['model']}" for r in rows],
            {"mean": [round(r["mean"], 4) for r in rows],
             "lower": [round(r["lower"], 4) for r in rows],
             "upper": [round(r["upper"], 4) for r in rows]}, horizontal=True)},
    }


BUILDERS = {"traffic": traffic, "money": money, "speed": speed, "protection": protection,
            "quality": quality}
