"""Local cost maths: average cost from measured throughput, and the marginal (idle is free) mode."""

from __future__ import annotations

import dataclasses

import pytest

from local_backend.cost import (
    LocalCostConfig,
    LocalCostModel,
    cost_config_for,
    dollars_per_million_tokens,
    marginal_factor,
    utilisation,
)
from local_backend.metrics import EndpointLoad
from local_backend.profiles import load_profiles


@pytest.mark.parametrize(
    ("per_gpu_hour", "gpus", "tokens_per_s", "expected"),
    [
        (3.60, 1, 1000.0, 1.0),  # $3.60/h over 3.6 M tokens/h
        (3.50, 1, 10_000.0, 3.50 / 36),  # one H200 at the published ~10k tokens/s
        (2.50, 2, 500.0, 5.0 / 1.8),
        (0.0, 0, 250.0, 0.0),  # the CPU test model costs nothing
    ],
)
def test_dollars_per_million_tokens(
    per_gpu_hour: float, gpus: int, tokens_per_s: float, expected: float
) -> None:
    assert dollars_per_million_tokens(per_gpu_hour, gpus, tokens_per_s) == pytest.approx(expected)


def test_throughput_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tokens_per_s"):
        dollars_per_million_tokens(1.0, 1, 0.0)


def load(tokens_per_s: float = 0.0, **fields: float) -> EndpointLoad:
    return EndpointLoad(
        "http://vllm:8000",
        True,
        prompt_tokens_per_s=tokens_per_s / 2,
        generation_tokens_per_s=tokens_per_s / 2,
        **fields,  # type: ignore[arg-type]
    )


def test_average_mode_uses_measured_throughput_when_busy_else_the_configured_floor() -> None:
    model = LocalCostModel(LocalCostConfig(3.60, 1, fallback_tokens_per_s=2000.0, mode="average"))
    busy = dataclasses.replace(load(1000.0), waiting=2)
    assert model.price_per_million(busy) == pytest.approx(1.0)
    assert model.cost(2_000_000, busy) == pytest.approx(2.0)
    # Quiet: the measured rate reflects demand, so the configured throughput is the floor.
    assert model.price_per_million(load(1000.0)) == pytest.approx(0.5)
    assert model.price_per_million(load(4000.0)) == pytest.approx(0.25)
    assert model.price_per_million(load(0.0)) == pytest.approx(0.5)
    assert model.price_per_million(None) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("fields", "max_num_seqs", "expected"),
    [
        ({}, None, 0.0),
        ({"kv_cache_usage": 0.3}, None, 0.3),
        ({"running": 6, "kv_cache_usage": 0.1}, 8, 0.75),
        ({"waiting": 1, "kv_cache_usage": 0.1}, 8, 1.0),  # a queue means saturated
        ({"running": 20}, 8, 1.0),
    ],
)
def test_utilisation(fields: dict[str, float], max_num_seqs: int | None, expected: float) -> None:
    assert utilisation(load(**fields), max_num_seqs) == pytest.approx(expected)


def test_marginal_mode_is_free_while_idle_and_rises_to_the_average_as_it_fills() -> None:
    config = LocalCostConfig(
        3.60, 1, fallback_tokens_per_s=1000.0, mode="marginal", idle_threshold=0.5, max_num_seqs=8
    )
    model = LocalCostModel(config)
    assert model.price_per_million(load(1000.0, running=2)) == 0.0
    assert model.cost(10_000, load(1000.0, running=2)) == 0.0
    assert model.price_per_million(load(1000.0, running=4)) == 0.0  # at the threshold
    # Half-way from the threshold to full: a quarter of the average price (the curve is x^2).
    assert model.price_per_million(load(1000.0, running=6)) == pytest.approx(0.25)
    assert model.price_per_million(load(1000.0, running=7)) == pytest.approx(0.5625)
    assert model.price_per_million(load(1000.0, waiting=3, running=8)) == pytest.approx(1.0)
    # Not measured yet: priced as idle; a down endpoint is availability's business.
    assert model.price_per_million(None) == 0.0


def test_marginal_is_the_default_mode() -> None:
    assert LocalCostConfig(1.0, 1, fallback_tokens_per_s=1.0).mode == "marginal"
    assert marginal_factor(0.2, 0.5) == 0.0
    assert marginal_factor(0.75, 0.5) == pytest.approx(0.25)
    assert marginal_factor(1.0, 1.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cost_per_gpu_hour": -1.0},
        {"fallback_tokens_per_s": 0.0},
        {"idle_threshold": 1.5},
    ],
)
def test_config_rejects_impossible_values(kwargs: dict[str, float]) -> None:
    base = {"cost_per_gpu_hour": 1.0, "gpu_count": 1, "fallback_tokens_per_s": 1.0}
    with pytest.raises(ValueError):
        LocalCostConfig(**{**base, **kwargs})  # type: ignore[arg-type]


def test_config_from_a_launch_profile() -> None:
    profile = load_profiles()["qwen35-35b-bf16-2xh100"]
    config = cost_config_for(profile, mode="marginal")
    assert (config.cost_per_gpu_hour, config.gpu_count) == (2.50, 2)
    assert config.fallback_tokens_per_s == profile.expected_tokens_per_s
    assert config.mode == "marginal"
