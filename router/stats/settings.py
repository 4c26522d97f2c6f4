"""Settings for request records, the stats window and quality feedback (`Settings.stats`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from router.stats.score_share import ShareSettings


class StatsSettings(BaseModel):
    """How much history the stats store keeps and how often replicas sync through Redis."""

    window_s: int = Field(900, ge=60, description="Sliding window the model stats cover.")
    bucket_s: int = Field(60, ge=1, description="Width of one window bucket (Redis hash).")
    record_retention_s: int = Field(
        86_400, ge=60, description="How long a request record stays fetchable for feedback."
    )
    memory_max_records: int = Field(
        20_000, ge=1, description="Records the embedded store keeps (least recent dropped)."
    )
    refresh_interval_s: float = Field(
        2.0, gt=0, description="How often a Redis-backed replica pulls shared stats."
    )
    flush_interval_s: float = Field(
        0.25, gt=0, description="How often queued records are written to Redis in one batch."
    )
    flush_batch: int = Field(500, ge=1, description="Most records written in one pipeline.")
    queue_max: int = Field(
        10_000, ge=1, description="Records waiting for Redis; beyond it the oldest are dropped."
    )
    background_timeout_s: float = Field(
        2.0, gt=0, description="Longest a background flush or refresh may wait on Redis."
    )
    key_prefix: str = Field("junction", min_length=1, description="Prefix of every Redis key.")
    prior_strength: float = Field(
        10.0, gt=0, description="Pseudo-observations behind each quality prior."
    )
    default_prior_mean: float = Field(
        0.5, ge=0, le=1, description="Quality prior for a task x model missing from the table."
    )
    feedback_weight: float = Field(1.0, gt=0, description="Observations one user vote counts.")
    judge_weight: float = Field(0.5, gt=0, description="Observations one judge score counts.")
    credible_mass: float = Field(
        0.9, gt=0, lt=1, description="Mass of the quality credible interval (0.9: 5%..95%)."
    )

    shares: ShareSettings = Field(
        default_factory=ShareSettings,
        description="The running score distribution behind a route's `strong_share`.",
    )

    @model_validator(mode="after")
    def _window_holds_whole_buckets(self) -> StatsSettings:
        if self.window_s % self.bucket_s:
            raise ValueError(
                f"stats.window_s ({self.window_s}) must be a multiple of "
                f"stats.bucket_s ({self.bucket_s})"
            )
        return self
