"""Request-record columns the dashboard filters and aggregates on, with their indexes.

Rows written before this migration keep NULL in the new columns; their JSON still has
everything, so nothing is lost, but summaries by task or sensitivity count them as unknown.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("task", sa.String(32)), ("sensitivity", sa.String(32)), ("spill_reason", sa.String(64)),
    ("tokens_in", sa.Integer()), ("tokens_out", sa.Integer()), ("total_ms", sa.Float()),
    ("ttft_ms", sa.Float()), ("streamed", sa.Boolean()), ("exploration", sa.Boolean()),
    ("answered_local", sa.Boolean()), ("sent_external", sa.Boolean()),
    ("egress_refused", sa.Boolean()), ("sensitive_where", sa.String(500)),
    ("policy_version", sa.Integer()),
)
_INDEXES = (
    ("ix_request_records_task_time", ["task", "time"]),
    ("ix_request_records_sensitivity_time", ["sensitivity", "time"]),
    # Covers the summaries (see `router.store.schema`); written out, as migrations are frozen.
    ("ix_request_records_summary", [
        "time", "route", "answered_by", "team", "key_id", "task", "sensitivity", "status",
        "cost_usd", "tokens_in", "tokens_out", "total_ms", "ttft_ms", "answered_local",
        "spill_reason", "sent_external", "egress_refused", "exploration", "sensitive_where",
        "policy_version"]),
)


def upgrade() -> None:
    # batch mode: SQLite cannot add several columns in one ALTER; PostgreSQL runs them as is.
    with op.batch_alter_table("request_records") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    for name, columns in _INDEXES:
        op.create_index(name, "request_records", columns)


def downgrade() -> None:
    for name, _ in _INDEXES:
        op.drop_index(name, table_name="request_records")
    with op.batch_alter_table("request_records") as batch:
        for name, _kind in _COLUMNS:
            batch.drop_column(name)
