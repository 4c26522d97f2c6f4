"""Cheap, deterministic prompt features: signed hashed n-grams plus a few dense statistics.

The hashed part is a sparse vector in `2**bucket_bits` buckets built from word uni/bi-grams and
character n-grams. Hashes are our own (crc32 for words, a vectorised FNV-style rolling hash for
characters, both finished with murmur3's fmix32), so a router trained on one machine scores the
same on every other: Python's `hash()` is salted per process and would not be.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DENSE_FEATURES", "FeatureConfig", "PromptFeatures", "extract_features"]

_MASK32 = np.uint64(0xFFFFFFFF)
_FNV_PRIME = np.uint64(16777619)
# Distinct seeds keep word unigrams, bigrams and each char n-gram order apart in one bucket space.
_SEED_UNIGRAM = np.uint64(0x9E3779B1)
_SEED_BIGRAM = np.uint64(0x85EBCA77)
_SEED_CHAR = np.uint64(0xC2B2AE3D)

_WHITESPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")
_DECIMAL = re.compile(r"\d[.,]\d|\d[eE][-+]?\d")
_MATH_SYMBOL = re.compile("[=+\\-*/^<>%±\u00d7÷≤≥≈∑∫√π∞∂∆θλμσΩ]")
_LATEX = re.compile(r"\\[a-zA-Z]+|\$[^$]+\$|\^\{|_\{")
_CODE_SYMBOL = re.compile(r"```|#include|=>|[;{}] *\n|\w\(\)")
_UNIT = re.compile(
    r"\d\s*(?:°|%|kg|g|mg|m|cm|mm|km|s|ms|min|h|hz|khz|mhz|j|kj|w|kw|v|a|n|pa|kpa|atm|mol|"
    r"k|l|ml|ev|\$)(?![a-z])",
    re.IGNORECASE,
)
_LOWER_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Word lists are matched on lower-cased whole words, one Counter per prompt (regex alternations
# over the whole text cost several times more).
_CODE_WORDS = _words(
    "def class return import function print elif var const public void lambda struct"
)
_COMPUTE_WORDS = _words("calculate compute solve find determine evaluate estimate")
_EXPLAIN_WORDS = _words("why explain describe discuss compare justify argue analyze analyse")
_FACT_WORDS = _words("what who when where which")
_NEGATIONS = _words("not except false incorrect least never")
_LONG_WORD = 9

# Names and order of the dense block. A router stores the list it was trained with, so adding a
# feature here leaves existing routers valid; an unknown name is refused when a router loads.
DENSE_FEATURES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_lines",
    "digit_share",
    "math_symbol_share",
    "upper_share",
    "log_numbers",
    "decimal_numbers",
    "latex_markers",
    "code_markers",
    "unit_mentions",
    "compute_words",
    "explain_words",
    "fact_words",
    "negations",
    "question_marks",
    "mean_word_length",
    "long_word_share",
    "distinct_word_share",
)


class FeatureConfig(BaseModel):
    """How text becomes features; stored in `router.json` so training and serving agree."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_bits: int = Field(default=18, ge=8, le=24)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    word_weight: float = Field(default=1.0, ge=0.0)
    char_weight: float = Field(default=1.0, ge=0.0)
    # Long prompts keep their head and tail: the ask is usually at one end, and it bounds latency.
    max_chars: int = Field(default=4000, ge=64)
    dense: tuple[str, ...] = DENSE_FEATURES

    @field_validator("dense")
    @classmethod
    def _known_dense_features(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in names if name not in DENSE_FEATURES]
        if unknown:
            raise ValueError(f"unknown dense features {unknown}; allowed: {list(DENSE_FEATURES)}")
        return names

    @property
    def n_buckets(self) -> int:
        return 1 << self.bucket_bits


@dataclass(frozen=True)
class PromptFeatures:
    """One prompt's features: sorted unique bucket `indices` with `values`, and the dense block."""

    indices: NDArray[np.int32]
    values: NDArray[np.float32]
    dense: NDArray[np.float32]


def extract_features(text: str, config: FeatureConfig) -> PromptFeatures:
    """Featurise one prompt; pure and deterministic across processes and machines."""
    text = _clip(text, config.max_chars)
    # Digits become 0 so "23.3°C" and "26.1°C" share n-grams: the value rarely decides difficulty.
    normal = _DIGIT.sub("0", _WHITESPACE.sub(" ", text.lower())).strip()
    blocks: list[tuple[NDArray[np.uint64], float]] = []
    if config.word_weight > 0:
        blocks.append((_word_hashes(normal, config.word_ngrams), config.word_weight))
    if config.char_weight > 0:
        blocks.append((_char_hashes(normal, config.char_ngrams), config.char_weight))
    indices, values = _combine(blocks, config.n_buckets)
    return PromptFeatures(indices, values, dense_features(text, config.dense))


def dense_features(text: str, names: Sequence[str] = DENSE_FEATURES) -> NDArray[np.float32]:
    """The dense statistics named in `names`, unscaled (the model standardises them)."""
    stats = _dense_stats(text)
    unknown = [name for name in names if name not in stats]
    if unknown:
        raise ValueError(f"unknown dense features {unknown}; allowed: {list(DENSE_FEATURES)}")
    return np.array([stats[name] for name in names], dtype=np.float32)


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    tail = max_chars // 4
    return text[: max_chars - tail] + " " + text[-tail:]


def _fmix32(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    h = h & _MASK32
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & _MASK32
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & _MASK32
    return h ^ (h >> np.uint64(16))


def _word_hashes(text: str, orders: tuple[int, int]) -> NDArray[np.uint64]:
    tokens = _TOKEN.findall(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    base = np.fromiter((zlib.crc32(t.encode()) for t in tokens), np.uint64, len(tokens))
    parts: list[NDArray[np.uint64]] = []
    if orders[0] <= 1 <= orders[1]:
        parts.append(_fmix32(base ^ _SEED_UNIGRAM))
    if orders[0] <= 2 <= orders[1] and len(base) > 1:
        pair = ((base[:-1] * _FNV_PRIME) & _MASK32) ^ base[1:]
        parts.append(_fmix32(pair ^ _SEED_BIGRAM))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _char_hashes(text: str, orders: tuple[int, int]) -> NDArray[np.uint64]:
    data = np.frombuffer(f" {text} ".encode(), dtype=np.uint8).astype(np.uint64)
    parts: list[NDArray[np.uint64]] = []
    rolling = data
    for n in range(2, orders[1] + 1):
        if len(rolling) < 2:
            break
        # rolling[i] hashes data[i:i+n]: extend every (n-1)-gram by the byte that follows it.
        rolling = ((rolling[:-1] * _FNV_PRIME) & _MASK32) ^ data[n - 1 :]
        if n >= orders[0]:
            parts.append(_fmix32(rolling ^ (_SEED_CHAR * np.uint64(n))))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _combine(
    blocks: list[tuple[NDArray[np.uint64], float]], n_buckets: int
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    all_indices: list[NDArray[np.int64]] = []
    all_values: list[NDArray[np.float64]] = []
    for hashes, weight in blocks:
        if len(hashes) == 0:
            continue
        unique, counts = np.unique(hashes, return_counts=True)
        tf = 1.0 + np.log(counts.astype(np.float64))
        # The top bit signs the feature, so colliding features cancel instead of piling up.
        sign = 1.0 - 2.0 * ((unique >> np.uint64(31)) & np.uint64(1)).astype(np.float64)
        values = sign * tf
        values *= weight / math.sqrt(float(np.dot(tf, tf)))
        all_indices.append((unique & np.uint64(n_buckets - 1)).astype(np.int64))
        all_values.append(values)
    if not all_indices:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    buckets, inverse = np.unique(np.concatenate(all_indices), return_inverse=True)
    summed = np.bincount(inverse, weights=np.concatenate(all_values), minlength=len(buckets))
    return buckets.astype(np.int32), summed.astype(np.float32)


def _dense_stats(text: str) -> dict[str, float]:
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    n_chars = max(len(text), 1)
    words = text.split()
    n_words = max(len(words), 1)
    upper = int(np.count_nonzero((raw >= 65) & (raw <= 90)))
    letters = upper + int(np.count_nonzero((raw >= 97) & (raw <= 122)))
    lower = text.lower()
    vocabulary = Counter(_LOWER_WORD.findall(lower))

    def share(count: int, total: int) -> float:
        return count / max(total, 1)

    def log_count(count: int) -> float:
        return math.log1p(count)

    def mentions(words_of_interest: frozenset[str]) -> float:
        return log_count(sum(vocabulary[w] for w in words_of_interest))

    compute_phrases = lower.count("how many") + lower.count("how much")
    return {
        "log_chars": math.log1p(len(text)),
        "log_words": math.log1p(len(words)),
        "log_lines": math.log1p(text.count("\n")),
        "digit_share": share(int(np.count_nonzero((raw >= 48) & (raw <= 57))), n_chars),
        "math_symbol_share": share(len(_MATH_SYMBOL.findall(text)), n_chars),
        "upper_share": share(upper, letters),
        "log_numbers": log_count(len(_NUMBER.findall(text))),
        "decimal_numbers": log_count(len(_DECIMAL.findall(text))),
        "latex_markers": log_count(len(_LATEX.findall(text))),
        "code_markers": log_count(
            len(_CODE_SYMBOL.findall(text)) + sum(vocabulary[w] for w in _CODE_WORDS)
        ),
        "unit_mentions": log_count(len(_UNIT.findall(text))),
        "compute_words": log_count(compute_phrases + sum(vocabulary[w] for w in _COMPUTE_WORDS)),
        "explain_words": mentions(_EXPLAIN_WORDS),
        "fact_words": mentions(_FACT_WORDS),
        "negations": mentions(_NEGATIONS),
        "question_marks": log_count(text.count("?")),
        "mean_word_length": sum(len(w) for w in words) / n_words,
        "long_word_share": share(sum(len(w) >= _LONG_WORD for w in words), n_words),
        "distinct_word_share": share(len(set(vocabulary)), n_words),
    }
