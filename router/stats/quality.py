"""How good each model is at each task: a Beta posterior per task x model, fed by feedback.

The prior comes from the quality table (task -> model -> mean) worth `prior_strength`
pseudo-observations. A score s in [0, 1] with weight w adds s*w to alpha and (1-s)*w to beta.

Feedback is idempotent per (source, request id) and the last score wins: a retried request
changes nothing, and a user who flips a thumb moves the posterior from the old score to the new
one without counting twice. A user vote and a judge score on the same request both count.

Only the observed evidence is stored (in memory or in Redis), never the prior, so editing the
quality table takes effect on restart without rewriting shared state.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from router.errors import InvalidRequest, NotFound
from router.settings import StatsSettings
from router.stats.beta import beta_quantile
from router.stats.records import RequestRecord
from router.stats.window import Pair

QualityPriors = Mapping[str, Mapping[str, float]]
"""task -> model -> prior mean quality in [0, 1]."""

FeedbackSource = Literal["user", "judge"]

# A prior mean of exactly 0 or 1 would make a degenerate Beta; keep both parameters positive.
_MIN_PARAMETER = 1e-3


@dataclass(frozen=True, slots=True)
class QualityEstimate:
    """The posterior for one task x model.

    `lower`/`upper` bound the credible interval (5%..95% by default); `confidence` is the share
    of the evidence that is real feedback rather than prior, from 0 (prior only) towards 1.
    """

    mean: float
    n: int
    lower: float
    upper: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Observed feedback for one task x model: summed score weights and the vote count."""

    alpha: float = 0.0
    beta: float = 0.0
    n: int = 0

    def with_vote(self, score: float, weight: float, previous: float | None) -> Evidence:
        if previous is None:
            return Evidence(
                self.alpha + score * weight, self.beta + (1.0 - score) * weight, self.n + 1
            )
        return Evidence(
            self.alpha + (score - previous) * weight,
            self.beta + (previous - score) * weight,
            self.n,
        )


@dataclass(frozen=True, slots=True)
class Vote:
    """One piece of feedback, already resolved to the task and model it judges."""

    request_id: str
    source: FeedbackSource
    task: str
    model: str
    score: float
    weight: float

    @property
    def pair(self) -> Pair:
        return self.task, self.model


class FeedbackLedger(Protocol):
    """Where evidence lives: in this process, or in Redis for every replica."""

    async def apply(self, vote: Vote) -> Evidence:
        """Record the vote (replacing this source's earlier one) and return the pair's total."""
        ...

    async def load(self) -> dict[Pair, Evidence]:
        """All evidence, for the periodic refresh."""
        ...


class RecordLookup(Protocol):
    async def get_record(self, request_id: str) -> RequestRecord | None: ...


class MemoryLedger:
    """Evidence in this process; remembers the last `max_votes` votes for idempotency."""

    def __init__(self, max_votes: int) -> None:
        self._max_votes = max_votes
        self._evidence: dict[Pair, Evidence] = {}
        self._votes: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def apply(self, vote: Vote) -> Evidence:
        key = (vote.source, vote.request_id)
        previous = self._votes.pop(key, None)
        self._votes[key] = vote.score
        if len(self._votes) > self._max_votes:
            self._votes.popitem(last=False)
        evidence = self._evidence.get(vote.pair, Evidence()).with_vote(
            vote.score, vote.weight, previous
        )
        self._evidence[vote.pair] = evidence
        return evidence

    async def load(self) -> dict[Pair, Evidence]:
        return dict(self._evidence)


class QualityBook:
    """Quality estimates per task x model: `quality()` is a dict lookup on the request path,
    `add_feedback()` resolves the request to its task and answering model and updates both."""

    def __init__(
        self,
        priors: QualityPriors,
        settings: StatsSettings,
        records: RecordLookup,
        ledger: FeedbackLedger,
    ) -> None:
        for task, models in priors.items():
            for model, mean in models.items():
                if not 0.0 <= mean <= 1.0:
                    raise ValueError(
                        f"quality prior for task {task!r}, model {model!r} must be within "
                        f"[0, 1], got {mean}"
                    )
        self._priors = {str(task): dict(models) for task, models in priors.items()}
        self._settings = settings
        self._records = records
        self._ledger = ledger
        self._evidence: dict[Pair, Evidence] = {}
        self._estimates: dict[Pair, QualityEstimate] = {}

    def quality(self, task: str, model: str) -> QualityEstimate:
        """The current estimate; the prior alone for a pair without feedback."""
        pair = (str(task), model)
        estimate = self._estimates.get(pair)
        if estimate is None:
            estimate = self._estimates[pair] = self._estimate(pair)
        return estimate

    async def add_feedback(
        self,
        request_id: str,
        score: float,
        *,
        source: FeedbackSource = "user",
        may_rate: Callable[[RequestRecord], bool] | None = None,
    ) -> QualityEstimate:
        """Apply a score in [0, 1] (thumbs up = 1, down = 0) to the model that answered.

        Raises `InvalidRequest` (param "score") for a score outside [0, 1], `NotFound` for an
        unknown or expired request id, or one `may_rate` refuses (the same answer, so a caller
        cannot learn that someone else's request id exists), and `InvalidRequest` (param
        "request_id") for a request no model answered.
        """
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or not (math.isfinite(score) and 0.0 <= score <= 1.0)
        ):
            raise InvalidRequest(
                f"score must be a number within [0, 1] (1 = good, 0 = bad), got {score!r}",
                param="score",
            )
        record = await self._records.get_record(request_id)
        if record is None or (may_rate is not None and not may_rate(record)):
            raise NotFound(
                f"no request {request_id!r}: unknown, or older than the record retention",
                param="request_id",
            )
        if record.answered_by is None:
            raise InvalidRequest(
                f"request {request_id!r} was not answered by any model; there is nothing to rate",
                param="request_id",
            )
        weight = self._settings.feedback_weight if source == "user" else self._settings.judge_weight
        vote = Vote(request_id, source, record.task.value, record.answered_by, float(score), weight)
        self._set_evidence(vote.pair, await self._ledger.apply(vote))
        return self.quality(*vote.pair)

    async def refresh(self) -> None:
        """Pull all evidence from the ledger; only pairs that changed are recomputed."""
        evidence = await self._ledger.load()
        for pair in self._evidence.keys() - evidence.keys():
            self._set_evidence(pair, Evidence())
        for pair, value in evidence.items():
            self._set_evidence(pair, value)

    def _set_evidence(self, pair: Pair, evidence: Evidence) -> None:
        # Computed here (a refresh or a feedback call), not in quality(): two Beta quantiles
        # cost a few hundred microseconds, which the request path should not pay.
        if self._evidence.get(pair, Evidence()) != evidence:
            self._evidence[pair] = evidence
            self._estimates[pair] = self._estimate(pair)

    def _estimate(self, pair: Pair) -> QualityEstimate:
        task, model = pair
        prior = self._priors.get(task, {}).get(model, self._settings.default_prior_mean)
        strength = self._settings.prior_strength
        evidence = self._evidence.get(pair, Evidence())
        # Float sums in Redis can drift a hair below zero after a vote is replaced.
        observed_alpha, observed_beta = max(evidence.alpha, 0.0), max(evidence.beta, 0.0)
        a = max(prior * strength + observed_alpha, _MIN_PARAMETER)
        b = max((1.0 - prior) * strength + observed_beta, _MIN_PARAMETER)
        tail = (1.0 - self._settings.credible_mass) / 2.0
        observed = observed_alpha + observed_beta
        return QualityEstimate(
            mean=a / (a + b),
            n=evidence.n,
            lower=beta_quantile(tail, a, b),
            upper=beta_quantile(1.0 - tail, a, b),
            confidence=observed / (observed + strength),
        )
