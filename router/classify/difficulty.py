"""Difficulty: how hard a request is, in [0, 1], from cheap features of its last user message.

The estimate is a sum of bounded terms, clamped to [0, 1]:

- a base by task: chat 0.10; translation 0.20; summarisation, extraction, creative 0.25;
  code, math 0.40; reasoning 0.45
- prompt length: up to +0.20, growing with log(tokens) from 50 to 10,000 tokens
- hard cues: +0.08 each, at most +0.30 ("prove", "step by step", "optimize", "distributed",
  "design a", "concurrency", "edge cases", "time complexity", "rigorous"...)
- easy cues: -0.05 each, at most -0.15 ("simple", "quick", "briefly", "one sentence", "eli5")
- constraints: +0.025 each, at most +0.15 ("must", "without", "at most", "exactly", "only",
  numbered or bulleted items)
- code size: up to +0.10 for 150 or more lines inside code fences
- math density: up to +0.10 for 8 or more arithmetic or notation marks
- several questions: +0.02 per question mark beyond the first, at most +0.06

It orders requests well enough to send easy ones to small models; it is not a calibrated
probability of failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from router.classify.features import TextFeatures
from router.classify.types import Task

_BASE: Final[Mapping[Task, float]] = MappingProxyType(
    {
        Task.CHAT: 0.10,
        Task.TRANSLATION: 0.20,
        Task.SUMMARISATION: 0.25,
        Task.EXTRACTION: 0.25,
        Task.CREATIVE: 0.25,
        Task.CODE: 0.40,
        Task.MATH: 0.40,
        Task.REASONING: 0.45,
    }
)
_HARD_WORDS: Final = frozenset(
    {
        "prove", "proof", "derive", "derivation", "rigorous", "rigorously", "formal", "formally",
        "optimize", "optimise", "optimal", "distributed", "concurrency", "concurrent",
        "thread-safe", "lock-free", "scalable", "scalability", "fault-tolerant", "consensus",
        "architecture", "step-by-step", "trade-offs", "tradeoffs", "asymptotic", "np-hard",
        "theorem", "induction", "eigenvalues", "differential", "migrate", "migration",
        "multi-step", "benchmark", "latency", "throughput", "invariant", "invariants",
        "cryptographic", "exploit", "counterexample", "second-order", "implications",
    }
)  # fmt: skip
_HARD_PAIRS: Final = frozenset(
    {
        ("step", "by"), ("design", "a"), ("edge", "cases"), ("time", "complexity"),
        ("race", "condition"), ("dynamic", "programming"), ("from", "scratch"),
        ("root", "cause"), ("zero", "downtime"), ("production", "ready"),
        ("system", "design"), ("think", "through"), ("in", "depth"), ("trade", "offs"),
    }
)  # fmt: skip
_EASY_WORDS: Final = frozenset(
    {"simple", "simply", "quick", "quickly", "brief", "briefly", "eli5", "basic", "short"}
)
_EASY_PAIRS: Final = frozenset(
    {("one", "sentence"), ("one", "word"), ("simple", "terms"), ("yes", "or"), ("just", "tell")}
)
_CONSTRAINT_WORDS: Final = frozenset(
    {"must", "without", "exactly", "only", "ensure", "avoid", "never", "always", "limit"}
)
_CONSTRAINT_PAIRS: Final = frozenset(
    {("at", "most"), ("at", "least"), ("no", "more"), ("do", "not"), ("don", "t"), ("make", "sure")}
)


@dataclass(frozen=True, slots=True)
class DifficultyEstimate:
    """A score in [0, 1] and the terms that moved it most."""

    score: float
    signals: tuple[str, ...]


def estimate_difficulty(
    request: TextFeatures, task: Task, *, prompt_tokens: int
) -> DifficultyEstimate:
    """Estimates difficulty from the last user message's features; see the module docstring."""
    terms: dict[str, float] = {"task": _BASE[task]}
    terms["length"] = 0.20 * _clamp(math.log10(max(prompt_tokens, 1) / 50) / math.log10(200))
    hard = len(request.words & _HARD_WORDS) + len(request.bigrams & _HARD_PAIRS)
    terms["multi-step cues"] = min(0.30, 0.08 * hard)
    easy = len(request.words & _EASY_WORDS) + len(request.bigrams & _EASY_PAIRS)
    terms["easy cues"] = -min(0.15, 0.05 * easy)
    constraints = (
        len(request.words & _CONSTRAINT_WORDS)
        + len(request.bigrams & _CONSTRAINT_PAIRS)
        + request.list_items
    )
    terms["constraints"] = min(0.15, 0.025 * constraints)
    terms["code size"] = 0.10 * _clamp(request.fenced_lines / 150)
    terms["math density"] = 0.10 * _clamp(request.math_marks / 8)
    terms["questions"] = min(0.06, 0.02 * max(0, request.questions - 1))
    score = round(_clamp(sum(terms.values())), 3)
    notable = sorted(
        (name for name, value in terms.items() if name != "task" and abs(value) >= 0.05),
        key=lambda name: -abs(terms[name]),
    )
    return DifficultyEstimate(score=score, signals=tuple(f"difficulty: {n}" for n in notable[:3]))


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))
