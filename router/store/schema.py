"""The database's tables (SQLAlchemy Core), shared by the code and the migrations.

Records are kept as JSON text of their pydantic models, so one schema serves SQLite and
PostgreSQL; the columns beside the JSON are the ones queries filter or sort on.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

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
    Index("ix_request_records_time", "time"),
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
