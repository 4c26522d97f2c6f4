"""The policy file's schema: pydantic models with `extra="forbid"` so typos fail loudly."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from router.classify.types import Capability, Sensitivity, Task

Objective = Literal["min_cost", "max_quality", "min_latency"]
Backend = Literal["local", "openai", "litellm", "anthropic"]
Residency = Literal["local", "external"]
# What a model serves: chat completions, or embeddings (`POST /v1/embeddings`).
ModelKind = Literal["chat", "embedding"]


class PolicyReferenceError(ValueError):
    """A cross-reference error found by the whole-policy check, with where it is."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prices(_Strict):
    """List prices in US dollars per million tokens (embedding models: input only)."""

    input_per_million: float = Field(ge=0)
    # Required for chat models (checked on `ModelSpec`); embedding models produce no tokens.
    output_per_million: float = Field(0.0, ge=0)


class LocalCost(_Strict):
    """What local tokens cost: GPU-hours spread over the measured (or assumed) throughput."""

    gpu_hour_usd: float = Field(ge=0)
    gpus: int = Field(1, ge=1)
    tokens_per_second: float = Field(
        1000.0, gt=0, description="Assumed throughput until the capacity probe has measured one."
    )
    mode: Literal["average", "marginal"] = Field(
        "marginal",
        description="marginal: idle capacity is free and the price rises to the average as the "
                    "GPUs fill; average: the GPUs' hourly price spread over their throughput.",
    )
    idle_threshold: float = Field(
        0.5, ge=0, le=1,
        description="marginal: utilisation below which local tokens cost $0; the price rises "
                    "from there to the average at full utilisation.",
    )
    max_num_seqs: int | None = Field(
        None, ge=1, description="vLLM's --max-num-seqs, to measure utilisation by slots."
    )


class LatencyPrior(_Strict):
    """What to assume about a model's speed before live measurements exist."""

    ttft_ms: float = Field(500.0, ge=0)
    tokens_per_second: float = Field(50.0, gt=0)


class ModelSpec(_Strict):
    """One model Junction may send requests to."""

    backend: Backend
    model: str = Field(
        min_length=1,
        description="Served model name (local, openai) or litellm model id (litellm).",
    )
    kind: ModelKind = Field(
        "chat", description="chat: serves /v1/chat/completions; embedding: /v1/embeddings."
    )
    dimensions: int | None = Field(
        None, ge=1, le=65_536,
        description="Embedding models: the length of the vectors the model returns by default.",
    )
    endpoints: list[str] = Field(default_factory=list)
    api_key_env: str | None = None
    prices: Prices | None = None
    local_cost: LocalCost | None = None
    capabilities: list[Capability] = Field(default_factory=list)
    context_window: int = Field(8192, ge=256)
    residency: Residency | None = None
    timeout_s: float | None = Field(None, gt=0)
    latency: LatencyPrior = LatencyPrior()
    extra_body: dict[str, object] = Field(
        default_factory=dict, description="Fields merged into every request to this model."
    )

    @model_validator(mode="after")
    def _check_backend(self) -> ModelSpec:
        if self.backend in ("local", "openai") and not self.endpoints:
            raise ValueError(f"backend {self.backend!r} needs at least one URL in 'endpoints'")
        if self.backend == "litellm" and len(self.endpoints) > 1:
            raise ValueError("backend 'litellm' takes at most one endpoint (its api_base)")
        if self.backend == "anthropic" and len(self.endpoints) > 1:
            raise ValueError("backend 'anthropic' takes at most one endpoint (default "
                             "https://api.anthropic.com)")
        for url in self.endpoints:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"endpoint {url!r} must start with http:// or https://")
        if self.capabilities and Capability.LONG_CONTEXT in self.capabilities:
            raise ValueError("'long_context' is not declared: set 'context_window' instead")
        if self.kind == "chat":
            if self.dimensions is not None:
                raise ValueError("'dimensions' is for embedding models; set kind: embedding")
            if self.prices is not None and "output_per_million" not in self.prices.model_fields_set:
                raise ValueError("a chat model's prices need output_per_million")
        elif self.capabilities:
            raise ValueError(
                f"capabilities {[c.value for c in self.capabilities]} are for chat models; "
                "an embedding model (kind: embedding) declares none")
        return self

    @property
    def effective_residency(self) -> Residency:
        """Local backends are local unless stated; everything else is external unless stated."""
        if self.residency is not None:
            return self.residency
        return "local" if self.backend == "local" else "external"


class Range(_Strict):
    min: float | None = None
    max: float | None = None

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Match(_Strict):
    """Conditions a request must meet for a route to apply; omitted fields match anything."""

    task: list[Task] | None = None
    difficulty: Range | None = None
    sensitivity: list[Sensitivity] | None = None
    capabilities: list[Capability] | None = None
    prompt_tokens: Range | None = None
    headers: dict[str, str] | None = None
    keys: list[str] | None = None
    teams: list[str] | None = None


class Constraints(_Strict):
    min_quality: float | None = Field(None, ge=0, le=1)
    max_cost_per_request_usd: float | None = Field(None, ge=0)
    max_latency_ms: float | None = Field(None, gt=0, description="Bound on expected p95 latency.")


class Spill(_Strict):
    """When local models count as saturated, so that a route sends work to its next candidates.

    Measures come from the capacity probe (the least loaded healthy endpoint of the model).
    Saturation starts when any measure passes its threshold and ends when every measure is
    below `resume_ratio` x its threshold, so traffic does not flap at the boundary.
    """

    max_waiting: int | None = Field(None, ge=0, description="Requests queued in vLLM.")
    max_kv_cache: float | None = Field(None, gt=0, le=1, description="KV-cache usage, 0-1.")
    max_predicted_ttft_ms: float | None = Field(None, gt=0)
    resume_ratio: float = Field(0.7, gt=0, lt=1)
    fail_closed_max_waiting: int | None = Field(
        None, ge=0,
        description="Fail-closed routes never spill; above this many queued requests they 503.",
    )


class Reasoning(_Strict):
    """Qwen3.5 thinking for local models: on, off, or on for hard work only (auto)."""

    thinking: Literal["on", "off", "auto"] = "auto"
    min_difficulty: float = Field(0.6, ge=0, le=1, description="auto: think from here up.")
    tasks: list[Task] = Field(
        default_factory=lambda: [Task.MATH, Task.REASONING, Task.CODE],
        description="auto: think only for these tasks.",
    )
    budget_tokens: int | None = Field(
        None, ge=1, description="Cap on thinking tokens (vLLM's thinking_token_budget)."
    )


class LearnedRouting(_Strict):
    """A route's `scorer` block: order its two candidates by a trained prompt scorer
    (`junction router train`).

    The scorer scores how much a prompt needs the strong model; at or above the threshold
    (calibrated by `junction router calibrate`, or given here) `strong` goes first.
    """

    path: str = Field(min_length=1, description="Scorer directory, relative to the policy file.")
    strong: str
    weak: str
    scorer_strong: str | None = Field(None, description="The strong model's name in the scorer.")
    scorer_weak: str | None = Field(None, description="The weak model's name in the scorer.")
    threshold: float | None = None
    strong_share: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Send this share of the route's traffic to `strong`: the threshold follows "
        "the running distribution of scores on live traffic instead of staying fixed.",
    )
    training: Literal["include", "exclude"] = Field(
        "include",
        description="exclude: this route's request records are never used to train a scorer.",
    )

    @model_validator(mode="after")
    def _one_way_to_set_the_threshold(self) -> LearnedRouting:
        if self.threshold is not None and self.strong_share is not None:
            raise ValueError(
                f"give either threshold ({self.threshold}) or strong_share "
                f"({self.strong_share}), not both: strong_share moves the threshold"
            )
        return self


class Judge(_Strict):
    """Send a share of a route's answers to a judge model; its score counts as feedback."""

    model: str
    share: float = Field(0.02, gt=0, le=1)


class RouteTimeouts(_Strict):
    """A route's own deadlines, overriding JUNCTION_TIMEOUTS__ATTEMPT_TOTAL_S / REQUEST_TOTAL_S."""

    attempt_total_s: float | None = Field(None, gt=0)
    request_total_s: float | None = Field(None, gt=0)


class Route(_Strict):
    """A named rule: which requests it takes, which models may serve them and how to choose."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    match: Match = Match()
    candidates: list[str] = Field(min_length=1)
    objective: Objective = "min_cost"
    constraints: Constraints = Constraints()
    fallbacks: list[str] = Field(default_factory=list)
    on_unavailable: Literal["fallback", "reject"] = Field(
        "fallback",
        description="reject: fail closed, never use models outside candidates and fallbacks.",
    )
    spill: Spill | None = None
    reasoning: Reasoning | None = None
    explore_share: float = Field(
        0.0, ge=0, le=0.25,
        description="Share of requests sent to another eligible candidate to keep its numbers "
                    "fresh. Never on fail-closed routes or sensitive requests.",
    )
    judge: Judge | None = None
    scorer: LearnedRouting | None = None
    unscannable: Literal["local", "allow"] = Field(
        "allow",
        description="local: a request with content Junction cannot scan (image pixels, audio, "
                    "binary files, file ids) may only use local models on this route; allow: "
                    "such content may go to external models (vision requests keep working).",
    )
    on_budget_soft_limit: Literal["ignore", "local_only"] = Field(
        "ignore",
        description="local_only: a caller above a budget's soft limit is kept to local models.",
    )
    extra_body: dict[str, object] = Field(default_factory=dict)
    timeouts: RouteTimeouts = RouteTimeouts()


class Defaults(_Strict):
    objective: Objective = "min_cost"
    fallbacks: list[str] = Field(default_factory=list)
    embedding_route: str | None = Field(
        None, description="The route `model: auto` means on /v1/embeddings (an embedding route).",
    )
    quality: float = Field(0.5, ge=0, le=1, description="Quality assumed with no prior.")
    output_tokens: dict[Task, int] = Field(
        default_factory=lambda: {
            Task.CODE: 600,
            Task.MATH: 500,
            Task.REASONING: 500,
            Task.EXTRACTION: 200,
            Task.SUMMARISATION: 250,
            Task.TRANSLATION: 300,
            Task.CREATIVE: 600,
            Task.CHAT: 250,
        },
        description="Typical output tokens per task, until measured.",
    )


class OrgDetector(_Strict):
    """One of the organisation's own detectors: a keyword list or one regular expression.

    A finding is reported as kind ``org:<name>`` and raises the request to `level`.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    level: Literal["pii", "confidential", "secret"]
    keywords: list[str] | None = Field(
        None, min_length=1, description="Whole words or phrases, matched on word boundaries."
    )
    regex: str | None = Field(None, min_length=1, description="Python `re` syntax.")
    case_sensitive: bool = False

    @model_validator(mode="after")
    def _check_pattern(self) -> OrgDetector:
        if (self.keywords is None) == (self.regex is None):
            raise ValueError(
                f"detector {self.name!r} needs exactly one of 'keywords' or 'regex'"
            )
        for index, keyword in enumerate(self.keywords or ()):
            if not keyword.strip():
                raise ValueError(
                    f"detector {self.name!r}: keywords[{index}] is empty; a keyword needs at "
                    "least one visible character"
                )
        if self.regex is not None:
            flags = 0 if self.case_sensitive else re.IGNORECASE
            try:
                compiled = re.compile(self.regex, flags)
            except re.error as exc:
                raise ValueError(
                    f"detector {self.name!r}: regex {self.regex!r} does not compile: {exc}"
                ) from None
            if any(m.start() == m.end() for probe in _EMPTY_PROBES
                   for m in compiled.finditer(probe)):
                raise ValueError(
                    f"detector {self.name!r}: regex {self.regex!r} matches the empty string, "
                    "so it would match every request; make at least one character required"
                )
        return self


# Texts on which a sound detector finds nothing of zero width ("x*", "\\b", "(?=a)" would).
_EMPTY_PROBES = ("", "a", " ", "Ab 1-2.")


class SensitivitySettings(_Strict):
    """The policy's own sensitivity detectors, beyond Junction's built-in ones."""

    personal_data: bool = Field(
        True,
        description="Detect a named person with a birth date, address, health, HR, financial "
                    "or government-ID details (kinds person_*).",
    )
    detectors: list[OrgDetector] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_names(self) -> SensitivitySettings:
        seen: set[str] = set()
        for detector in self.detectors:
            if detector.name in seen:
                raise ValueError(f"detector name {detector.name!r} is used twice")
            seen.add(detector.name)
        return self


class Reporting(_Strict):
    """What the dashboard compares against: `reference_model` is the API model everything
    could have been sent to; Money shows the saving against sending it all there."""

    reference_model: str = Field(min_length=1)


class Policy(_Strict):
    """A whole policy file."""

    version: Literal[1] = 1
    models: dict[str, ModelSpec] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)
    quality: dict[Task, dict[str, float]] = Field(default_factory=dict)
    defaults: Defaults = Defaults()
    sensitivity: SensitivitySettings = SensitivitySettings()
    reporting: Reporting | None = None
    # Old key names the loader accepted and renamed, for `junction policy check` to warn about.
    _deprecations: tuple[str, ...] = PrivateAttr(default=())

    @property
    def deprecations(self) -> tuple[str, ...]:
        return self._deprecations

    @model_validator(mode="after")
    def _check_references(self) -> Policy:
        names = set(self.models)
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            at: tuple[str | int, ...] = ("routes", index)
            if route.name in seen:
                raise PolicyReferenceError(f"route name {route.name!r} is used twice",
                                           (*at, "name"))
            if route.name in names or route.name == "auto":
                raise PolicyReferenceError(
                    f"route name {route.name!r} clashes with a model name or 'auto'",
                    (*at, "name"))
            seen.add(route.name)
            refs: list[tuple[str, tuple[str | int, ...]]] = [
                *((m, (*at, "candidates", i)) for i, m in enumerate(route.candidates)),
                *((m, (*at, "fallbacks", i)) for i, m in enumerate(route.fallbacks)),
            ]
            if route.judge is not None:
                refs.append((route.judge.model, (*at, "judge", "model")))
            if route.scorer is not None:
                for key in ("strong", "weak"):
                    ref = getattr(route.scorer, key)
                    if ref not in route.candidates:
                        raise PolicyReferenceError(
                            f"route {route.name!r}: scorer model {ref!r} must be one of its "
                            f"candidates ({', '.join(route.candidates)})",
                            (*at, "scorer", key))
            for ref, loc in refs:
                if ref not in names:
                    raise PolicyReferenceError(
                        f"route {route.name!r} names unknown model {ref!r}; "
                        f"models are: {', '.join(sorted(names))}", loc)
            self._check_route_kind(route, at)
        for i, ref in enumerate(self.defaults.fallbacks):
            if ref not in names:
                raise PolicyReferenceError(f"defaults.fallbacks names unknown model {ref!r}",
                                           ("defaults", "fallbacks", i))
        if self.reporting is not None:
            ref = self.reporting.reference_model
            if ref not in names:
                raise PolicyReferenceError(
                    f"reporting.reference_model names unknown model {ref!r}; models are: "
                    f"{', '.join(sorted(names))}", ("reporting", "reference_model"))
        self._check_embedding_route()
        for task, table in self.quality.items():
            for model, score in table.items():
                if model not in names:
                    raise PolicyReferenceError(
                        f"quality.{task.value} names unknown model {model!r}; "
                        f"models are: {', '.join(sorted(names))}",
                        ("quality", task.value, model))
                if not 0 <= score <= 1:
                    raise PolicyReferenceError(
                        f"quality.{task.value}.{model} = {score} is outside [0, 1]",
                        ("quality", task.value, model))
        return self

    def route_kind(self, route: Route) -> ModelKind:
        """What a route serves: the kind of its models (the check below makes them agree)."""
        return self.models[route.candidates[0]].kind

    def _check_route_kind(self, route: Route, at: tuple[str | int, ...]) -> None:
        kind = self.route_kind(route)
        for key in ("candidates", "fallbacks"):
            for i, ref in enumerate(getattr(route, key)):
                if self.models[ref].kind != kind:
                    raise PolicyReferenceError(
                        f"route {route.name!r} mixes kinds: {route.candidates[0]!r} is a "
                        f"{kind} model but {ref!r} is a {self.models[ref].kind} model; a route "
                        "serves one kind", (*at, key, i))
        if kind == "embedding":
            declared = {m: self.models[m].dimensions for m in (*route.candidates,
                                                               *route.fallbacks)}
            sizes = {d for d in declared.values() if d is not None}
            if len(sizes) > 1:
                shown = ", ".join(f"{m}: {d}" for m, d in declared.items() if d is not None)
                raise PolicyReferenceError(
                    f"route {route.name!r} mixes embedding dimensions ({shown}); vectors of "
                    "different sizes cannot be compared, so a route's models must agree",
                    (*at, "candidates"))
            for key in ("judge", "scorer", "reasoning"):
                if getattr(route, key) is not None:
                    raise PolicyReferenceError(
                        f"route {route.name!r} serves embeddings; {key!r} is for chat routes",
                        (*at, key))

    def _check_embedding_route(self) -> None:
        name = self.defaults.embedding_route
        if name is None:
            return
        loc = ("defaults", "embedding_route")
        route = next((r for r in self.routes if r.name == name), None)
        embedding = [r.name for r in self.routes if self.route_kind(r) == "embedding"]
        if route is None or self.route_kind(route) != "embedding":
            what = "is not a route" if route is None else "is a chat route"
            raise PolicyReferenceError(
                f"defaults.embedding_route {name!r} {what}; embedding routes are: "
                f"{', '.join(embedding) or 'none (declare a route of kind: embedding models)'}",
                loc)
