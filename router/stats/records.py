"""One record per request: what was asked, where it went, what it cost.

`RequestRecord` is written to the stats store after the response and is also the Redis payload,
so it is a pydantic model (validated when read back). Prompt and completion text stay `None`
unless the operator turned content logging on; the gateway decides, the record only carries it.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from router.classify.types import Capability, Classification, Sensitivity, Task

# Outcomes that say nothing about the model: the request itself was bad (4xx other than a
# timeout or a rate limit), or the attempt never reached the model (its breaker was open).
_NOT_THE_MODELS_FAULT = frozenset({"ok", "circuit_open", "refused_egress", "refused_residency"})
# Outcomes of attempts that never sent a byte to the model.
_NOT_SENT = frozenset({"circuit_open", "refused_egress", "refused_residency"})
_MODEL_FAULT_4XX = frozenset({"408", "429"})


class Attempt(BaseModel):
    """One try of one candidate: `outcome` is "ok", an HTTP status ("503"), "timeout",
    "connect_error", "circuit_open", or "refused_egress" (the egress guard found sensitive or
    unscannable content in the body about to leave for an external model, and sent nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    endpoint: str
    outcome: str
    duration_ms: float = Field(ge=0)

    @property
    def reached_model(self) -> bool:
        """False for an attempt skipped before any bytes left (open breaker, refusal)."""
        return self.outcome not in _NOT_SENT

    @property
    def is_failure(self) -> bool:
        """Whether this attempt counts against the model's error rate."""
        if self.outcome in _NOT_THE_MODELS_FAULT:
            return False
        if self.outcome.startswith("4") and self.outcome.isdigit():
            return self.outcome in _MODEL_FAULT_4XX
        return True


class ClassificationSummary(BaseModel):
    """The parts of a `Classification` worth keeping: no scores, no signals, no values.

    `fields` names where each kind was found (paths such as ``tools[0].function.description``)
    and `unscannable` counts images, audio and binary files; neither holds content.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: Task
    difficulty: float = Field(ge=0, le=1)
    sensitivity: Sensitivity
    findings: dict[str, int] = Field(default_factory=dict)
    fields: dict[str, list[str]] = Field(default_factory=dict)
    unscannable: dict[str, int] = Field(default_factory=dict)
    capabilities: list[Capability] = Field(default_factory=list)
    prompt_tokens: int = Field(0, ge=0)

    @classmethod
    def of(cls, classification: Classification) -> ClassificationSummary:
        return cls(
            task=classification.task,
            difficulty=min(max(classification.difficulty, 0.0), 1.0),
            sensitivity=classification.sensitivity,
            findings=dict(classification.findings),
            fields={kind: list(paths) for kind, paths in classification.fields.items()},
            unscannable=dict(classification.unscannable),
            capabilities=sorted(classification.capabilities),
            prompt_tokens=classification.prompt_tokens,
        )

    @property
    def is_sensitive(self) -> bool:
        return self.sensitivity is not Sensitivity.NONE


class CandidateSummary(BaseModel):
    """One candidate as the decision judged it: kept or why not, and the numbers it was ranked
    by. The reason is the engine's own sentence; it names kinds and limits, never content."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    role: str
    kept: bool
    kind: str
    reason: str
    residency: str
    quality: float | None = None
    expected_cost_usd: float | None = None
    expected_latency_ms: float | None = None
    spilled: bool = False
    saturation: str | None = None


class DecisionSummary(BaseModel):
    """The explain view of a served request, compact: objective, candidates in order, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objective: str
    fail_closed: bool = False
    candidates: list[CandidateSummary] = Field(default_factory=list)
    prompt_score_threshold: float | None = None
    rejection: str | None = Field(None, description="The refusal's code, when refused.")


class RequestRecord(BaseModel):
    """Everything Junction remembers about one request, kept for `record_retention_s`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1)
    time: float = Field(description="Unix seconds when the request arrived.")
    key_id: str | None = None
    team: str | None = None
    route: str
    classification: ClassificationSummary
    candidates: list[str] = Field(default_factory=list, description="In the order tried.")
    chosen: str | None = Field(None, description="The first candidate the policy picked.")
    attempts: list[Attempt] = Field(default_factory=list)
    answered_by: str | None = Field(None, description="The model whose answer was returned.")
    tokens_in: int = Field(0, ge=0)
    tokens_out: int = Field(0, ge=0)
    tokens_reasoning: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    ttft_ms: float | None = Field(None, ge=0, description="Streamed requests only.")
    total_ms: float = Field(ge=0)
    status: int = Field(ge=100, le=599, description="HTTP status returned to the caller.")
    streamed: bool = False
    exploration: bool = Field(False, description="Routed off-policy to learn about a model.")
    door: str = Field("chat", description="The API the request came through: chat, "
                      "embeddings...")
    # Stored records written before the rename say `router_score`: read them as well.
    prompt_score: float | None = Field(
        None,
        validation_alias=AliasChoices("prompt_score", "router_score"),
        description="The learned scorer's score of the prompt, on routes ordered by one.",
    )
    requested_model: str | None = Field(
        None, description="The `model` the caller asked for: auto, a route or a model name "
        "(what-if replays it; None in records written before it was kept)."
    )
    budget_used_share: float | None = Field(
        None, ge=0, le=1, description="At admission, the largest share of any of the caller's "
        "budgets already spent or reserved (None: no budget applied)."
    )
    prompt: str | None = Field(None, description="Only with content logging on.")
    completion: str | None = Field(None, description="Only with content logging on.")
    # Added with the dashboard; records stored before lack them and load with the defaults.
    spill_reason: str | None = Field(
        None, description="Why the first choice did not answer: `local_<measure>` when a "
        "saturated local model was passed over, `failover_<outcome>` when its attempt failed."
    )
    policy_version: int | None = Field(None, description="The stored policy version served.")
    decision: DecisionSummary | None = None
    answered_local: bool | None = Field(
        None, description="Whether the answering model is local; None when none answered."
    )
    sent_external: bool = Field(
        False, description="Whether any attempt sent the request to an external model."
    )

    @property
    def task(self) -> Task:
        return self.classification.task
