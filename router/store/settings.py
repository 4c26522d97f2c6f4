"""Settings of the durable store: where it lives is top-level (`data_dir`, `database_url`);
how request records are batched and kept is here."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StoreSettings(BaseModel):
    """Batching and retention of what the gateway writes to its database off the request path."""

    batch_size: int = Field(
        500, ge=1, description="Most request records (or spend increments) written in one batch."
    )
    flush_interval_s: float = Field(
        0.2, gt=0,
        description="Longest a request record or a spend increment waits before it is written; "
        "a kill -9 loses at most this much.",
    )
    queue_size: int = Field(
        50_000, ge=1,
        description="Most request records waiting to be written; beyond it new ones are dropped "
        "and counted (junction_records_dropped_total), never blocking a request.",
    )
    retention_days: float = Field(
        30.0, gt=0, description="Request records older than this are deleted (hourly sweep)."
    )
