"""The routing dataset: JSONL, one prompt per line, with each model's quality (and cost) on it.

    {"id": "q1", "prompt": "...", "task": "math",
     "scores": {"gpt-4o": 1, "llama-8b": 0}, "cost": {"gpt-4o": 0.004, "llama-8b": 0.0001}}

`messages` (OpenAI chat messages) may replace `prompt`; `task`, `cost` and `meta` (free-form
labels such as a benchmark category, used to split data, never as a feature) are optional.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from router.learned.text import ChatMessage, text_from_messages

__all__ = [
    "ChatMessage",
    "DatasetError",
    "RoutingExample",
    "cost_matrix",
    "dataset_models",
    "load_dataset",
    "quality_matrix",
    "text_from_messages",
]

class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file, line and field."""


class RoutingExample(BaseModel):
    """One dataset line: a prompt (or chat) and each model's quality on it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    # Any label: a team's own task names are as good as the classifier's (which only
    # bench/classifier_report.py compares against).
    task: str | None = None
    scores: dict[str, float] = Field(min_length=1)
    cost: dict[str, float] | None = None
    meta: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("scores")
    @classmethod
    def _scores_in_unit_interval(cls, scores: dict[str, float]) -> dict[str, float]:
        for model, score in scores.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"scores[{model!r}] = {score} is outside [0, 1]")
        return scores

    @field_validator("cost")
    @classmethod
    def _costs_not_negative(cls, cost: dict[str, float] | None) -> dict[str, float] | None:
        for model, dollars in (cost or {}).items():
            if not dollars >= 0.0:
                raise ValueError(f"cost[{model!r}] = {dollars} must be >= 0 dollars")
        return cost

    @model_validator(mode="after")
    def _one_kind_of_input(self) -> RoutingExample:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' (a string) or 'messages' (a list)")
        if self.messages is not None and not any(m.role == "user" for m in self.messages):
            raise ValueError("'messages' has no message with role 'user'")
        unscored = sorted(set(self.cost or {}) - set(self.scores))
        if unscored:
            raise ValueError(f"cost names models without a score: {unscored}")
        return self

    def text(self) -> str:
        """The text a router scores: the prompt, or the last user message with a little context."""
        if self.prompt is not None:
            return self.prompt
        return text_from_messages([m.model_dump() for m in self.messages or []])


def load_dataset(path: Path, *, score_scale: float = 1.0) -> list[RoutingExample]:
    """Read and validate a JSONL dataset; raises DatasetError naming line number and field.

    `score_scale` is the top of the scores' scale (10 for a 0-10 judge): scores are divided by
    it, so that every quality the router sees lies in [0, 1].
    """
    if not score_scale > 0:
        raise DatasetError(f"the score scale must be > 0; got {score_scale}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the dataset: {exc.strerror or exc}") from exc
    examples: list[RoutingExample] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if score_scale != 1.0:
            raw = _rescaled(raw, score_scale, f"{path}:{number}")
        try:
            example = RoutingExample.model_validate(raw)
        except ValidationError as exc:
            raise DatasetError(f"{path}:{number}: {_describe(exc)}") from exc
        if example.id in first_line:
            raise DatasetError(
                f"{path}:{number}: id {example.id!r} repeats line {first_line[example.id]}"
            )
        first_line[example.id] = number
        examples.append(example)
    if not examples:
        raise DatasetError(f"{path}: the dataset has no examples")
    return examples


def dataset_models(examples: Iterable[RoutingExample]) -> list[str]:
    """Every model with a score, most often scored first (ties by name)."""
    counts = Counter(model for example in examples for model in example.scores)
    return sorted(counts, key=lambda model: (-counts[model], model))


def quality_matrix(
    examples: Sequence[RoutingExample], models: Sequence[str]
) -> NDArray[np.float64]:
    """Scores as an (examples x models) array; NaN where a model has no score."""
    return np.array(
        [[e.scores.get(m, np.nan) for m in models] for e in examples], dtype=np.float64
    ).reshape(len(examples), len(models))


def cost_matrix(examples: Sequence[RoutingExample], models: Sequence[str]) -> NDArray[np.float64]:
    """Costs in dollars as an (examples x models) array; NaN where a cost is missing."""
    return np.array(
        [[(e.cost or {}).get(m, np.nan) for m in models] for e in examples], dtype=np.float64
    ).reshape(len(examples), len(models))


def _rescaled(raw: Any, scale: float, where: str) -> Any:
    if not isinstance(raw, dict) or not isinstance(raw.get("scores"), dict):
        return raw  # validation names what is missing
    scores: dict[str, Any] = {}
    for model, score in raw["scores"].items():
        if isinstance(score, int | float) and not isinstance(score, bool):
            if not 0.0 <= score <= scale:
                raise DatasetError(
                    f"{where}: field 'scores.{model}': {score} is outside the score scale "
                    f"[0, {scale:g}] (--score-scale)"
                )
            score = score / scale
        scores[model] = score
    return {**raw, "scores": scores}


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(line)"
        value = error.get("input")
        # The value itself, shortened: "(got dict)" would not say which value was wrong.
        shown = _shown(value)
        problems.append(f"field {where!r}: {error['msg']} (got {shown})")
    return "; ".join(problems)


def _shown(value: object, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
