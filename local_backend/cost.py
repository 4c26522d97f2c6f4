"""What a token served by local GPUs costs, so the router can compare it with API prices.

Average mode spreads the GPUs' hourly price over the tokens they actually serve:

    $/M tokens = cost_per_gpu_hour x gpu_count / (tokens_per_s x 3600) x 1e6

with tokens_per_s = prompt + generated tokens per second measured from vLLM's counters while
the endpoint is busy, and at least the configured `fallback_tokens_per_s` while it is not (a
quiet endpoint's measured rate reflects demand, not what the GPUs can do). Marginal mode prices
what one more request really costs GPUs that are paid for anyway: nothing while utilisation is
below `idle_threshold`, then rising along a curve as the GPUs fill, to the average price at full
utilisation (a queue counts as full):

    $/M tokens = average x ((utilisation - idle_threshold) / (1 - idle_threshold))^2

The curve, rather than a step, keeps a half-busy GPU cheap without pretending that a nearly full
one is free; leaving the local model under load is the job of the route's spill-over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from local_backend.metrics import EndpointLoad
from local_backend.profiles import LaunchProfile

CostMode = Literal["average", "marginal"]


def dollars_per_million_tokens(
    cost_per_gpu_hour: float, gpu_count: int, tokens_per_s: float
) -> float:
    """The GPUs' hourly price spread over the tokens they serve in an hour, per million."""
    if tokens_per_s <= 0:
        raise ValueError(f"tokens_per_s must be > 0, got {tokens_per_s}")
    return cost_per_gpu_hour * gpu_count / (tokens_per_s * 3600) * 1e6


def utilisation(load: EndpointLoad, max_num_seqs: int | None = None) -> float:
    """How busy an endpoint is, 0..1: 1 with a queue, else the larger of KV cache usage and the
    share of sequence slots in use (when max_num_seqs is known).
    """
    if load.waiting > 0:
        return 1.0
    slots = load.running / max_num_seqs if max_num_seqs else 0.0
    return min(max(load.kv_cache_usage, slots), 1.0)


def marginal_factor(used: float, idle_threshold: float) -> float:
    """Share of the average price one more token costs at utilisation `used` (0..1)."""
    if used <= idle_threshold or idle_threshold >= 1.0:
        return 0.0
    return min((used - idle_threshold) / (1.0 - idle_threshold), 1.0) ** 2


@dataclass(frozen=True)
class LocalCostConfig:
    """Price and capacity of one local deployment (usually from its launch profile)."""

    cost_per_gpu_hour: float
    gpu_count: int
    fallback_tokens_per_s: float
    mode: CostMode = "marginal"
    idle_threshold: float = 0.5
    max_num_seqs: int | None = None

    def __post_init__(self) -> None:
        if self.cost_per_gpu_hour < 0 or self.gpu_count < 0:
            raise ValueError("cost_per_gpu_hour and gpu_count must be >= 0")
        if self.fallback_tokens_per_s <= 0:
            raise ValueError(
                f"fallback_tokens_per_s must be > 0, got {self.fallback_tokens_per_s}"
            )
        if not 0 <= self.idle_threshold <= 1:
            raise ValueError(f"idle_threshold must be within 0..1, got {self.idle_threshold}")


class LocalCostModel:
    """Prices local tokens from a deployment's config and its latest measured load."""

    def __init__(self, config: LocalCostConfig) -> None:
        self.config = config

    def throughput(self, load: EndpointLoad | None) -> float:
        """Tokens/s to spread the GPUs' price over.

        While the endpoint is busy (utilisation at or above `idle_threshold`) the measured
        rate is what the GPUs deliver, and it is used. Below that the rate is limited by
        demand, not by the GPUs, so the configured throughput is a floor: otherwise a quiet
        hour would make local tokens look dearer than an API and push traffic away from idle
        GPUs.
        """
        measured = load.tokens_per_s if load is not None else 0.0
        busy = load is not None and utilisation(load, self.config.max_num_seqs) >= (
            self.config.idle_threshold
        )
        if busy and measured > 0:
            return measured
        return max(measured, self.config.fallback_tokens_per_s)

    def price_per_million(self, load: EndpointLoad | None) -> float:
        """Dollars per million (prompt + generated) tokens now, in the configured mode.

        Marginal mode with no measurement yet prices the GPUs as idle: a down endpoint is
        caught by availability, not by price.
        """
        cfg = self.config
        average = dollars_per_million_tokens(
            cfg.cost_per_gpu_hour, cfg.gpu_count, self.throughput(load)
        )
        if cfg.mode == "average":
            return average
        used = 0.0 if load is None else utilisation(load, cfg.max_num_seqs)
        return average * marginal_factor(used, cfg.idle_threshold)

    def cost(self, tokens: int, load: EndpointLoad | None) -> float:
        """Dollars for a request of `tokens` prompt + generated tokens at today's price."""
        return tokens * self.price_per_million(load) / 1e6


def cost_config_for(
    profile: LaunchProfile, mode: CostMode = "marginal", idle_threshold: float = 0.5
) -> LocalCostConfig:
    """The cost settings of a launch profile: its GPUs, their price and its expected throughput."""
    return LocalCostConfig(
        cost_per_gpu_hour=profile.cost_per_gpu_hour,
        gpu_count=profile.gpu_count,
        fallback_tokens_per_s=profile.expected_tokens_per_s,
        mode=mode,
        idle_threshold=idle_threshold,
        max_num_seqs=profile.max_num_seqs,
    )
