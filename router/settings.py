"""Junction's one configuration object: built at start-up, passed in, never read from globals.

A leaf: every sub-model lives here (stats, accounts, Redis, timeouts...), and this module imports
nothing of Junction's but the `Sensitivity` enum (itself a leaf).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from router.classify.types import Sensitivity


class TimeoutSettings(BaseModel):
    connect_s: float = Field(2.0, gt=0, description="Connecting to an upstream.")
    first_byte_s: float = Field(60.0, gt=0, description="Waiting for an upstream's first byte.")
    stream_idle_s: float = Field(60.0, gt=0, description="Longest gap between streamed chunks.")
    attempt_total_s: float = Field(
        300.0, gt=0,
        description="Longest one attempt at one model may take, first byte to last, streamed or "
        "not; before the first byte it falls back, after it the stream ends with an error event.",
    )
    request_total_s: float = Field(
        600.0, gt=0, description="Longest a whole request may spend upstream, fallbacks included."
    )
    keep_alive_expiry_s: float = Field(
        30.0, gt=0, description="Idle upstream connections are closed after this long."
    )


class LimitsSettings(BaseModel):
    """Bounds on what an upstream may send back: its answers are untrusted input."""

    max_response_bytes: int = Field(
        32 * 1024 * 1024, ge=1024,
        description="Largest non-streamed upstream body, and largest single SSE event; larger "
        "ones fail the attempt (502 naming this limit, or an error event mid-stream).",
    )


class EmbeddingsSettings(BaseModel):
    """Bounds on one `POST /v1/embeddings` request (OpenAI's own: 2048 inputs, 8192 tokens)."""

    max_inputs: int = Field(2048, ge=1, description="Most inputs in one request.")
    max_input_tokens: int = Field(
        8192, ge=1,
        description="Most tokens in one input: token ids counted, text estimated (chars / 4).",
    )
    max_dimensions: int = Field(65_536, ge=1, description="Largest `dimensions` accepted.")


class BreakerSettings(BaseModel):
    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open it.")
    cooldown_s: float = Field(10.0, gt=0, description="Open time before a half-open probe.")
    max_retry_after_s: float = Field(
        300.0, ge=0,
        description="Longest an upstream's Retry-After (on 429/503) may keep its model's circuit "
        "open.",
    )


class RedisSettings(BaseModel):
    url: str | None = Field(
        None,
        description="Redis for shared stats, keys and budgets (JUNCTION_REDIS__URL; the older "
        "JUNCTION_REDIS_URL still works). Without it everything lives in memory, per process.",
    )
    timeout_ms: float = Field(
        1000.0, gt=0,
        description="Longest a request-path Redis call (key check, budget, rate limit) may wait; "
        "a saturated event loop counts too, so keep it well above Redis' own latency.",
    )
    fail_open_budgets: bool = Field(
        False, description="With Redis unreachable, serve without budget checks (default: 503)."
    )
    max_connections: int = Field(
        64, ge=1,
        description="Most connections the gateway opens to Redis; beyond them a call waits for "
        "a free one (within timeout_ms) rather than opening another.",
    )


class ShareSettings(BaseModel):
    """How scores are bucketed and how much recent traffic the estimate reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    buckets: int = Field(1000, ge=10, le=100_000)
    window_s: float = Field(300.0, gt=0)
    slot_s: float = Field(30.0, gt=0)
    # Below this many scores in the window the estimate is noise: the calibrated threshold holds.
    min_samples: int = Field(200, ge=1)
    # The estimate is recomputed after this many new scores (or a new slot), not per request.
    recompute_every: int = Field(50, ge=1)

    @property
    def slots(self) -> int:
        return max(1, math.ceil(self.window_s / self.slot_s))


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


class AccountsSettings(BaseModel):
    """Whether callers need a Junction key, and how keys and reservations are kept."""

    require_key: bool = Field(
        False,
        description=(
            "Refuse requests without a valid Junction key (401). Off by default so the "
            "embedded demo works: keyless requests are served as an anonymous principal."
        ),
    )
    key_pepper: SecretStr | None = Field(
        None,
        description=(
            "Secret mixed into key hashes (HMAC-SHA256). Changing it invalidates every key; "
            "without it keys are stored as plain SHA-256 of the secret."
        ),
    )
    default_key_ttl_days: int | None = Field(
        90, ge=1, description="Expiry of a new key when the admin gives none (None: never)."
    )
    reservation_ttl_s: float = Field(
        900.0,
        gt=0,
        description=(
            "How long a budget reservation lives without being settled; a crashed replica's "
            "reservations are freed after it. Longer than the slowest streamed response."
        ),
    )
    anonymous_team: str | None = Field(
        None,
        description=(
            "Charge keyless requests to this team's budgets and rate limits "
            "(default: anonymous requests are not metered)."
        ),
    )
    anonymous_sensitivity: Sensitivity = Field(
        Sensitivity.NONE, description="Sensitivity floor applied to keyless requests."
    )
    redis_prefix: str = Field(
        "junction:accounts", min_length=1, description="Prefix of every accounts key in Redis."
    )
    admin_timeout_s: float = Field(
        5.0, gt=0, description="Longest an admin call (create, list, revoke) waits on Redis."
    )
    settle_retry_attempts: int = Field(
        12, ge=1,
        description=(
            "Retries of a settlement (or release) that could not reach Redis, with backoff "
            "doubling from settle_retry_backoff_s up to 30 s: about 3 minutes by default."
        ),
    )
    settle_retry_backoff_s: float = Field(
        0.25, gt=0, description="Wait before the first settlement retry; it doubles after each."
    )
    settle_retry_queue: int = Field(
        10_000, ge=1,
        description="Most settlements waiting for a retry; beyond it they are dropped, logged and "
        "counted (junction_settlements_dropped_total).",
    )
    reserve_image_tokens: int = Field(
        2500,
        ge=0,
        description=(
            "Prompt tokens a budget reservation assumes per image (the largest high-detail "
            "image costs about 1,450 on gpt-4o, 1,600 on Claude, 2,500 on gpt-4.1-mini)."
        ),
    )


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
        10_000, ge=1,
        description="Most request records waiting to be written (about 1 KB each; several "
        "seconds of peak traffic should the database stall); beyond it new ones are dropped "
        "and counted (junction_records_dropped_total), never blocking a request.",
    )
    retention_days: float = Field(
        30.0, gt=0, description="Request records older than this are deleted (hourly sweep)."
    )
    poll_interval_s: float = Field(
        0.5, gt=0,
        description="Without Redis: how often a replica reads the change feed (policy "
        "activations, key and team changes) that other replicas write.",
    )
    notified_poll_interval_s: float = Field(
        5.0, gt=0,
        description="With Redis, replicas are notified of each change at once (pub/sub); this "
        "slower read of the change feed is the safety net for a lost notification.",
    )


RoleName = Literal["viewer", "editor", "admin"]


class AdminTokenSpec(BaseModel):
    """One entry of JUNCTION_ADMIN_TOKENS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Named in the audit log.")
    token: SecretStr = Field(description="The bearer secret (at least 16 characters).")
    role: RoleName = Field(description="viewer, editor or admin.")

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr) -> SecretStr:
        if len(token.get_secret_value()) < 16:
            raise ValueError("an admin token must be at least 16 characters long")
        return token


# The shipped default policy is package data: found from any directory after `pip install`.
SHIPPED_POLICY = Path(__file__).resolve().parent / "policies" / "default.yaml"


class Settings(BaseSettings):
    """Every setting has a JUNCTION_ environment variable; nested ones use `__`."""

    model_config = SettingsConfigDict(
        env_prefix="JUNCTION_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    metrics_dir: Path | None = Field(
        None,
        description="With several workers, where they share their Prometheus metrics (emptied "
        "at start). Unset: a fresh temporary directory per start, removed at exit.",
    )
    policy_file: Path = SHIPPED_POLICY
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    redis_url: str | None = Field(
        None, description="The former name of redis.url; still accepted, redis.url wins."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_content: bool = Field(
        False, description="Log prompt and completion text. Off unless an operator turns it on."
    )
    admin_token: SecretStr | None = None
    admin_tokens: list[AdminTokenSpec] = Field(
        default_factory=list,
        description='Named admin tokens with roles, as JSON: [{"name": "ci", "token": "...", '
        '"role": "editor"}]; roles viewer, editor, admin.',
    )
    dashboard_session_hours: float = Field(
        8.0, gt=0, le=24 * 30,
        description="How long a dashboard sign-in lasts before the token is asked again.",
    )
    protect_internal_endpoints: bool = Field(
        False,
        description="Require the admin token (or metrics_token, for /metrics) on /metrics, "
        "/openapi.json, /docs and /redoc.",
    )
    metrics_token: SecretStr | None = Field(
        None, description="A token that opens /metrics only (for a Prometheus scraper)."
    )
    shutdown_grace_s: float = Field(
        20.0, gt=0,
        description="After SIGTERM, how long in-flight requests may finish; streams still open "
        "then end with an error event. Keep it below Kubernetes' terminationGracePeriodSeconds.",
    )
    data_dir: Path = Field(
        Path("junction-data"),
        description="Where the embedded SQLite database lives (created on first start); "
        "unused when database_url is set.",
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host/db for several replicas (one database "
        "shared by all); default: SQLite in data_dir.",
    )
    store: StoreSettings = StoreSettings()
    timeouts: TimeoutSettings = TimeoutSettings()
    breaker: BreakerSettings = BreakerSettings()
    limits: LimitsSettings = LimitsSettings()
    embeddings: EmbeddingsSettings = EmbeddingsSettings()
    redis: RedisSettings = RedisSettings()
    stats: StatsSettings = StatsSettings()
    accounts: AccountsSettings = AccountsSettings()
    reserve_output_tokens: int = Field(
        4096, ge=1, description="Output tokens a budget reservation assumes without max_tokens."
    )
    probe_interval_s: float = Field(2.0, gt=0, description="Local vLLM /metrics poll interval.")
    otel_exporter: Literal["none", "otlp", "console"] = Field(
        "none",
        description="Where spans go: otlp (OTLP/HTTP; OTEL_EXPORTER_OTLP_ENDPOINT and the other "
        "standard OTEL_* variables apply), console (debugging) or none.",
    )

    @model_validator(mode="after")
    def _one_redis_url(self) -> Settings:
        # Both names read the same value afterwards, whichever the operator set.
        if self.redis.url is None and self.redis_url is not None:
            self.redis = self.redis.model_copy(update={"url": self.redis_url})
        self.redis_url = self.redis.url
        return self
