"""What the policy engine reads and produces: signals, request context, verdicts, decisions.

Kept apart from the engine so that the serving layer, explain and the recorders can use these
types without the decision logic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

from router.classify.types import Classification, Task
from router.policy.pricing import ModelPrice
from router.policy.schema import ModelKind, Objective, Spill

Role = Literal["candidate", "fallback"]


class VerdictKind(StrEnum):
    """Why a model was kept or rejected, for code; `Verdict.reason` says it for people."""

    ELIGIBLE = "eligible"
    NOT_ALLOWED = "not_allowed"
    SENSITIVE_EXTERNAL = "sensitive_external"
    UNSCANNABLE_LOCAL = "unscannable_local"
    BUDGET_LOCAL_ONLY = "budget_local_only"
    LACKS_CAPABILITY = "lacks_capability"
    CONTEXT_TOO_SMALL = "context_too_small"
    UNAVAILABLE = "unavailable"
    BELOW_MIN_QUALITY = "below_min_quality"
    OVER_MAX_COST = "over_max_cost"
    OVER_MAX_LATENCY = "over_max_latency"
    # Local and saturated: moved behind the others (spilled), kept in place on a fail-closed
    # route (queues), or dropped there once its queue passes the route's bound.
    SPILLED = "spilled"
    SATURATED_QUEUES = "saturated_queues"
    QUEUE_FULL = "queue_full"


class RejectionKind(StrEnum):
    """Why nothing may serve a request; the value is the error body's `code`."""

    ROUTE_NOT_ALLOWED = "route_not_allowed"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    SENSITIVE_EXTERNAL = "sensitive_data_external_model"
    NO_MATCHING_ROUTE = "no_matching_route"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    CANNOT_SERVE = "model_cannot_serve_request"
    MODEL_UNAVAILABLE = "model_unavailable"
    NO_LOCAL_MODEL_AVAILABLE = "no_local_model_available"
    NO_MODEL_AVAILABLE = "no_model_available"
    # A chat model or route named on /v1/embeddings, or an embedding one on the chat door.
    WRONG_MODEL_KIND = "model_kind_mismatch"

    @property
    def status(self) -> int:
        """403: the caller may not; 503: nothing can now (retry later); 400: the request."""
        if self in _FORBIDDEN:
            return 403
        if self in _UNAVAILABLE:
            return 503
        return 400


_FORBIDDEN = frozenset({RejectionKind.ROUTE_NOT_ALLOWED, RejectionKind.MODEL_NOT_ALLOWED,
                        RejectionKind.SENSITIVE_EXTERNAL})
_UNAVAILABLE = frozenset({RejectionKind.MODEL_UNAVAILABLE, RejectionKind.NO_LOCAL_MODEL_AVAILABLE,
                          RejectionKind.NO_MODEL_AVAILABLE})


@dataclass(frozen=True, slots=True)
class QualityView:
    mean: float
    n: float
    source: str  # "prior", "default" or "feedback"


class RoutingSignals(Protocol):
    """Live numbers the engine ranks by; every call is O(1) and never does I/O."""

    def quality(self, task: Task, model: str) -> QualityView: ...

    def expected_output_tokens(self, task: Task, model: str) -> float: ...

    def expected_latency_ms(self, task: Task, model: str, output_tokens: float) -> float: ...

    def unavailable_reason(self, model: str) -> str | None: ...

    def price(self, model: str) -> ModelPrice: ...

    def local_load(self, model: str) -> Mapping[str, float] | None:
        """The probe's view of a local model's least loaded endpoint, or None if unknown."""
        ...

    def saturation(self, model: str, spill: Spill) -> str | None:
        """Why the model counts as saturated under these thresholds (with hysteresis).

        Reads only; the caller that acts on the decision moves the state (`SpillCheck`).
        """
        ...


class PromptScorer(Protocol):
    """A trained router: how much a chat needs the strong model (pure, no I/O)."""

    @property
    def threshold(self) -> float | None:
        """The score at or above which the strong model goes first."""
        ...

    @property
    def target_share(self) -> float | None:
        """The share of traffic the threshold aims to send to the strong model; None if fixed."""
        ...

    def score_messages(self, messages: Sequence[Mapping[str, Any]]) -> float: ...


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the engine needs to know about a request besides its classification."""

    requested_model: str = "auto"
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    key_id: str | None = None
    team: str | None = None
    allowed_models: frozenset[str] | None = None
    allowed_routes: frozenset[str] | None = None
    max_output_tokens: int | None = None
    # Set when a budget of the caller is above its soft limit: routes that choose so keep to
    # local models instead of refusing later at the hard limit.
    budget_pressure: str | None = None
    messages: Sequence[Mapping[str, Any]] = ()
    # What the door serves: chat routes and models for chat doors, embedding ones for
    # /v1/embeddings.
    kind: ModelKind = "chat"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why one model was kept or rejected, with the numbers it was judged by."""

    model: str
    role: Role
    kept: bool
    reason: str
    residency: str
    quality: float | None = None
    quality_source: str | None = None
    expected_cost_usd: float | None = None
    expected_latency_ms: float | None = None
    load: Mapping[str, float] | None = None
    spilled: bool = False
    kind: VerdictKind = VerdictKind.ELIGIBLE
    # The measures over their thresholds when the model is saturated (for the spill header).
    saturation: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "load": None if self.load is None else dict(self.load),
            "spilled": self.spilled,
            "kind": self.kind.value,
            "model": self.model,
            "role": self.role,
            "kept": self.kept,
            "reason": self.reason,
            "residency": self.residency,
            "quality": None if self.quality is None else round(self.quality, 4),
            "quality_source": self.quality_source,
            "expected_cost_usd": (
                None if self.expected_cost_usd is None else round(self.expected_cost_usd, 8)
            ),
            "expected_latency_ms": (
                None if self.expected_latency_ms is None else round(self.expected_latency_ms, 1)
            ),
        }


@dataclass(frozen=True, slots=True)
class SpillCheck:
    """One saturation reading a decision was made on; serving hands it back to move the
    hysteresis state, explain does not."""

    model: str
    spill: Spill
    saturated: bool


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why nothing may serve the request; the API turns it into an OpenAI-shaped error."""

    kind: RejectionKind
    message: str

    @property
    def status(self) -> int:
        return self.kind.status

    @property
    def code(self) -> str:
        return self.kind.value


@dataclass(frozen=True, slots=True)
class Decision:
    route: str
    objective: Objective | Literal["direct"]
    attempts: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    classification: Classification
    fail_closed: bool
    rejection: Rejection | None = None
    extra_body: Mapping[str, object] = field(default_factory=dict)
    local_extra_body: Mapping[str, object] = field(default_factory=dict)
    spilled: bool = False
    exploration: bool = False
    # The learned scorer's score of the prompt, on routes ordered by one (`scorer:`).
    prompt_score: float | None = None
    # The threshold the score was held against, and the strong share it aims at (if any).
    prompt_score_threshold: float | None = None
    strong_share: float | None = None
    # The route's choice for content that cannot be scanned; the egress guard reads it too.
    unscannable_policy: Literal["local", "allow"] = "allow"
    spill_checks: tuple[SpillCheck, ...] = ()

    @property
    def chosen(self) -> str | None:
        return self.attempts[0] if self.attempts else None

    def to_dict(self) -> dict[str, object]:
        score = None if self.prompt_score is None else round(self.prompt_score, 4)
        threshold = (
            None if self.prompt_score_threshold is None else round(self.prompt_score_threshold, 4)
        )
        return {
            "route": self.route,
            "objective": self.objective,
            "fail_closed": self.fail_closed,
            "unscannable_policy": self.unscannable_policy,
            "classification": self.classification.to_dict(),
            "candidates": [v.to_dict() for v in self.verdicts],
            "attempt_order": list(self.attempts),
            "choice": self.chosen,
            "spilled": self.spilled,
            "exploration": self.exploration,
            "prompt_score": score,
            "prompt_score_threshold": threshold,
            # The old names of the two fields above, kept for one release (README, Policies).
            "router_score": score,
            "router_threshold": threshold,
            "strong_share": self.strong_share,
            "local_extra_body": dict(self.local_extra_body),
            "rejection": None
            if self.rejection is None
            else {
                "kind": self.rejection.kind.value,
                "status": self.rejection.status,
                "code": self.rejection.code,
                "message": self.rejection.message,
            },
        }
