"""Request classification: task, difficulty, sensitivity and capabilities; pure, no I/O."""

from router.classify.classifier import DEFAULT_LONG_CONTEXT_TOKENS, RuleClassifier
from router.classify.difficulty import DifficultyEstimate, estimate_difficulty
from router.classify.features import TextFeatures, text_features
from router.classify.sensitivity import (
    KIND_LEVELS,
    ExtraDetector,
    SensitivityScan,
    level_of,
    scan_text,
)
from router.classify.task import TaskAssessment, score_tasks
from router.classify.types import Capability, Classification, Classifier, Sensitivity, Task

__all__ = [
    "DEFAULT_LONG_CONTEXT_TOKENS",
    "KIND_LEVELS",
    "Capability",
    "Classification",
    "Classifier",
    "DifficultyEstimate",
    "ExtraDetector",
    "RuleClassifier",
    "Sensitivity",
    "SensitivityScan",
    "Task",
    "TaskAssessment",
    "TextFeatures",
    "estimate_difficulty",
    "level_of",
    "scan_text",
    "score_tasks",
    "text_features",
]
