"""The database's tables (SQLAlchemy Core), shared by the code and the migrations.

Records are kept as JSON text of their pydantic models, so one schema serves SQLite and
PostgreSQL; the columns beside the JSON are the ones queries filter or sort on.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

teams = Table(
    "teams", metadata,
    Column("name", String(64), primary_key=True),
    Column("record", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("team", String(64), nullable=False),
    Column("record", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One row per budget counter ("team:acme:day:2026-01-31"): the settled spend of that period,
# kept after the period ends as spend history.
spend = Table(
    "spend", metadata,
    Column("counter", String(200), primary_key=True),
    Column("spent_micro", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The columns the dashboard's summaries read, time first (every summary has a time range).
SUMMARY_COLUMNS = (
    "time", "route", "answered_by", "team", "key_id", "task", "sensitivity", "status",
    "cost_usd", "tokens_in", "tokens_out", "total_ms", "ttft_ms", "answered_local",
    "spill_reason", "sent_external", "egress_refused", "exploration", "sensitive_where",
    "policy_version",
)

request_records = Table(
    "request_records", metadata,
    Column("request_id", String(200), primary_key=True),
    Column("time", Float, nullable=False),
    Column("team", String(64)),
    Column("key_id", String(16)),
    Column("route", String(200), nullable=False),
    Column("answered_by", String(200)),
    Column("cost_usd", Float, nullable=False),
    Column("status", Integer, nullable=False),
    Column("record", Text, nullable=False),
    # From migration 0003 (the dashboard); NULL in rows written before it.
    Column("task", String(32)),
    Column("sensitivity", String(32)),
    Column("spill_reason", String(64)),
    Column("tokens_in", Integer),
    Column("tokens_out", Integer),
    Column("total_ms", Float),
    Column("ttft_ms", Float),
    Column("streamed", Boolean),
    Column("exploration", Boolean),
    Column("answered_local", Boolean),
    Column("sent_external", Boolean),
    Column("egress_refused", Boolean),
    # "kind@field" pairs where sensitive data was found, sorted, comma-joined; indexes as [*].
    Column("sensitive_where", String(500)),
    Column("policy_version", Integer),
    Index("ix_request_records_time", "time"),
    Index("ix_request_records_task_time", "task", "time"),
    Index("ix_request_records_sensitivity_time", "sensitivity", "time"),
    # Covering the dashboard's aggregates, so a summary over a time range reads this index
    # and not the rows with their JSON (ten times faster on SQLite at 100,000 records).
    Index("ix_request_records_summary", *SUMMARY_COLUMNS),
)

policy_versions = Table(
    "policy_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("yaml", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("comment", Text),
    Column("created_by", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("activated_by", String(200)),
    Column("activated_at", Float),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Index("ix_audit_log_at", "at"),
)

# Changes replicas poll for (every 0.5 s): kind "policy" (ref: the version activated, so the
# last such row names the active version) or "accounts" (a key or team changed).
changes = Table(
    "changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("ref", Integer),
    Column("actor", String(200), nullable=False),
    Column("at", Float, nullable=False),
)
