"""Prompt features: deterministic across processes, normalised, and cheap to compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from router.learned.features import DENSE_FEATURES, FeatureConfig, dense_features, extract_features

PROMPT = (
    "A 100 g block of copper (s = 0.095) is heated to 95°C and plunged into 1000 g of water at "
    "20°C. What is the final temperature?\n\nOptions:\nA. 23.3°C\nB. 26.1°C\nC. 25.9°C"
)


def test_features_are_identical_in_a_process_with_another_hash_seed() -> None:
    # Python's hash() is salted per process; the features must not be.
    script = (
        "import json, sys\n"
        "from router.learned.features import FeatureConfig, extract_features\n"
        "f = extract_features(sys.argv[1], FeatureConfig())\n"
        "print(json.dumps([f.indices.tolist(), f.values.tolist(), f.dense.tolist()]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, PROMPT], env=env, capture_output=True, text=True, check=True
    )
    indices, values, dense = json.loads(out.stdout)
    here = extract_features(PROMPT, FeatureConfig())
    assert indices == here.indices.tolist()
    assert values == here.values.tolist()
    assert dense == here.dense.tolist()


def test_hashed_part_is_sorted_unique_and_each_block_has_unit_norm() -> None:
    words = extract_features(PROMPT, FeatureConfig(char_weight=0.0))
    chars = extract_features(PROMPT, FeatureConfig(word_weight=0.0))
    for f in (words, chars):
        assert np.all(np.diff(f.indices) > 0)
        assert f.indices.max() < FeatureConfig().n_buckets
        # Collisions inside a block can only shrink the norm a little from 1.
        assert float(np.linalg.norm(f.values)) == pytest.approx(1.0, abs=0.02)
    assert len(chars.indices) > len(words.indices)


def test_numbers_are_normalised_so_values_do_not_matter() -> None:
    config = FeatureConfig()
    a = extract_features("What is 23.3 plus 41.7?", config)
    b = extract_features("What is 26.1 plus 48.2?", config)
    assert a.indices.tolist() == b.indices.tolist()
    assert a.values.tolist() == b.values.tolist()


def test_empty_and_whitespace_prompts_give_empty_hashed_features() -> None:
    for text in ("", "   \n\t"):
        f = extract_features(text, FeatureConfig(char_ngrams=(3, 5)))
        assert len(f.indices) == len(f.values)
        assert np.isfinite(f.dense).all()
        assert f.dense.shape == (len(DENSE_FEATURES),)


def test_long_prompts_keep_head_and_tail_only() -> None:
    config = FeatureConfig(max_chars=200)
    head, tail = "x" * 150, "solve the integral " * 3
    long = extract_features(head + "y" * 10_000 + tail, config)
    short = extract_features(head + "y" * 100 + tail, config)
    assert long.indices.tolist() == short.indices.tolist()


def test_dense_features_see_code_math_and_questions() -> None:
    stats = dict(
        zip(
            DENSE_FEATURES,
            dense_features("```python\ndef f(x):\n    return x**2\n```\nWhy?"),
            strict=True,
        )
    )
    assert stats["code_markers"] > 0
    assert stats["explain_words"] > 0
    assert stats["question_marks"] > 0
    assert dict(zip(DENSE_FEATURES, dense_features(PROMPT), strict=True))["unit_mentions"] > 0


def test_unknown_dense_feature_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown dense features"):
        dense_features("hi", ["log_chars", "shoe_size"])


def test_a_config_naming_unknown_dense_features_is_invalid() -> None:
    with pytest.raises(ValidationError, match="unknown dense features"):
        FeatureConfig(dense=("log_chars", "shoe_size"))
