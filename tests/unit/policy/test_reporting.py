"""`reporting.reference_model` must name a model of the policy."""

from __future__ import annotations

import pytest

from router.errors import PolicyError
from router.policy.loader import parse_policy

BASE = """
version: 1
models:
  local: {backend: local, model: m, endpoints: ["http://127.0.0.1:9/v1"]}
  api: {backend: openai, model: gpt, endpoints: ["https://api.example/v1"],
        prices: {input_per_million: 1.0, output_per_million: 2.0}}
routes:
  - {name: default, candidates: [local, api]}
"""


def test_the_reference_model_is_read() -> None:
    policy = parse_policy(BASE + "reporting: {reference_model: api}\n", source="p.yaml",
                          environ={})
    assert policy.reporting is not None and policy.reporting.reference_model == "api"


def test_an_unknown_reference_model_names_the_key_and_the_choices() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(BASE + "reporting: {reference_model: gpt-9}\n", source="p.yaml", environ={})
    message = str(info.value)
    assert "reporting.reference_model" in message and "'gpt-9'" in message
    assert "api, local" in message
