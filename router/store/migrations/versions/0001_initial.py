"""The first schema: teams, keys, spend, request records, policy versions and the audit log."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "spend",
        sa.Column("counter", sa.String(200), primary_key=True),
        sa.Column("spent_micro", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "request_records",
        sa.Column("request_id", sa.String(200), primary_key=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("team", sa.String(64)),
        sa.Column("key_id", sa.String(16)),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("answered_by", sa.String(200)),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_request_records_time", "request_records", ["time"])
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("activated_by", sa.String(200)),
        sa.Column("activated_at", sa.Float),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    for table in ("audit_log", "policy_versions", "request_records", "spend", "api_keys", "teams"):
        op.drop_table(table)
