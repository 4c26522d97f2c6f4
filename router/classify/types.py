"""The classifier's output types, shared by the classifier, the policy engine and explain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Task(StrEnum):
    CODE = "code"
    MATH = "math"
    REASONING = "reasoning"
    EXTRACTION = "extraction"
    SUMMARISATION = "summarisation"
    TRANSLATION = "translation"
    CREATIVE = "creative"
    CHAT = "chat"


class Sensitivity(StrEnum):
    """How sensitive a request is; ordered, so a header can only raise it."""

    NONE = "none"
    PII = "pii"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"

    @property
    def rank(self) -> int:
        return _SENSITIVITY_RANK[self]

    def at_least(self, other: Sensitivity) -> Sensitivity:
        return self if self.rank >= other.rank else other


_SENSITIVITY_RANK = {
    Sensitivity.NONE: 0,
    Sensitivity.PII: 1,
    Sensitivity.CONFIDENTIAL: 2,
    Sensitivity.SECRET: 3,
}


# `Classification.unscannable` kind for embedding input sent as token ids: text Junction cannot
# read back without the model's tokenizer, so it is embedded by local models only.
TOKEN_IDS = "token_ids"


class Capability(StrEnum):
    TOOLS = "tools"
    VISION = "vision"
    JSON_SCHEMA = "json_schema"
    LONG_CONTEXT = "long_context"


@dataclass(frozen=True, slots=True)
class Classification:
    """What Junction knows about one request before choosing a model.

    `findings` counts what the sensitivity detectors found, by kind (``email``, ``iban``,
    ``jwt``...); `fields` names where each kind was found (``messages[0].content``,
    ``tools[0].function.parameters``, ``user``...); neither ever holds the values themselves.
    `unscannable` counts content that cannot be scanned (image pixels, audio, binary files),
    by kind of content.
    """

    task: Task
    difficulty: float
    sensitivity: Sensitivity
    findings: Mapping[str, int] = field(default_factory=dict)
    capabilities: frozenset[Capability] = frozenset()
    prompt_tokens: int = 0
    task_scores: Mapping[str, float] = field(default_factory=dict)
    signals: tuple[str, ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unscannable: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_sensitive(self) -> bool:
        return self.sensitivity is not Sensitivity.NONE

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task.value,
            "difficulty": round(self.difficulty, 3),
            "sensitivity": self.sensitivity.value,
            "findings": dict(self.findings),
            "fields": {kind: list(paths) for kind, paths in self.fields.items()},
            "unscannable": dict(self.unscannable),
            "capabilities": sorted(c.value for c in self.capabilities),
            "prompt_tokens": self.prompt_tokens,
            "task_scores": {k: round(v, 3) for k, v in self.task_scores.items()},
            "signals": list(self.signals),
        }


class Classifier(Protocol):
    """Classifies a chat-completions body; pure, no I/O."""

    def classify(
        self, body: Mapping[str, Any], *, min_sensitivity: Sensitivity = Sensitivity.NONE
    ) -> Classification: ...
