"""Resolve each model's price per million tokens: the policy, local GPU cost, or litellm's map.

litellm ships its price map as JSON inside the package. Reading that file directly keeps
litellm's multi-second, ~150 MB import off the start-up path of a gateway that may never call it.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from router.policy.schema import ModelSpec

PriceSource = Literal["policy", "local_gpu", "litellm_cost_map", "unknown"]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input_per_million: float
    output_per_million: float
    source: PriceSource

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


def local_price_per_million(gpu_hour_usd: float, gpus: int, tokens_per_second: float) -> float:
    """Dollars per million tokens when `gpus` GPUs at `gpu_hour_usd` each make that throughput."""
    return gpu_hour_usd * gpus / (tokens_per_second * 3600.0) * 1_000_000


def resolve_price(spec: ModelSpec) -> ModelPrice:
    if spec.prices is not None:
        return ModelPrice(spec.prices.input_per_million, spec.prices.output_per_million, "policy")
    if spec.local_cost is not None:
        if spec.local_cost.mode == "marginal":
            # Nothing measured (offline, or before the first probe): GPUs paid for anyway and
            # idle cost nothing more per token; the gateway prices them live as they fill.
            return ModelPrice(0.0, 0.0, "local_gpu")
        per_m = local_price_per_million(
            spec.local_cost.gpu_hour_usd, spec.local_cost.gpus, spec.local_cost.tokens_per_second
        )
        return ModelPrice(per_m, per_m, "local_gpu")
    entry = _lookup_cost_map(spec.model)
    if entry is not None:
        return ModelPrice(
            float(entry.get("input_cost_per_token") or 0.0) * 1_000_000,
            float(entry.get("output_cost_per_token") or 0.0) * 1_000_000,
            "litellm_cost_map",
        )
    return ModelPrice(0.0, 0.0, "unknown")


def _lookup_cost_map(model: str) -> dict[str, Any] | None:
    table = _cost_map()
    if model in table:
        return table[model]
    _, _, bare = model.partition("/")
    return table.get(bare) if bare else None


@lru_cache(maxsize=1)
def _cost_map() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations)))
    path = path / "model_prices_and_context_window_backup.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}
