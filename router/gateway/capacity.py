"""Local GPU capacity as routing sees it: load per local model, spill-over with hysteresis,
endpoint ranking and the live price of local tokens, all read from the capacity probe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from local_backend.cost import LocalCostConfig, LocalCostModel, utilisation
from local_backend.metrics import EndpointLoad
from local_backend.probe import CapacityProbe, predict_ttft
from router.policy.decision import SpillCheck
from router.policy.pricing import ModelPrice
from router.policy.schema import Policy, Spill
from router.redact import redact


class LocalCapacity:
    """Everything the gateway derives from `CapacityProbe` for the policy's local models."""

    def __init__(self, policy: Policy, probe: CapacityProbe) -> None:
        self.probe = probe
        self._endpoints = {
            name: list(spec.endpoints)
            for name, spec in policy.models.items()
            if spec.backend == "local"
        }
        self._costs = {
            name: LocalCostModel(LocalCostConfig(
                cost_per_gpu_hour=spec.local_cost.gpu_hour_usd,
                gpu_count=spec.local_cost.gpus,
                fallback_tokens_per_s=spec.local_cost.tokens_per_second,
                mode=spec.local_cost.mode,
                idle_threshold=spec.local_cost.idle_threshold,
                max_num_seqs=spec.local_cost.max_num_seqs,
            ))
            for name, spec in policy.models.items()
            if spec.backend == "local" and spec.local_cost is not None
        }
        self._saturated: dict[tuple[str, Spill], bool] = {}

    @staticmethod
    def endpoints_of(policy: Policy) -> list[str]:
        seen: dict[str, None] = {}
        for spec in policy.models.values():
            if spec.backend == "local":
                for url in spec.endpoints:
                    seen.setdefault(url, None)
        return list(seen)

    def load(self, model: str) -> EndpointLoad | None:
        """The load of the endpoint a request would go to: the least loaded healthy one."""
        endpoints = self._endpoints.get(model)
        if not endpoints:
            return None
        best = self.probe.least_loaded(endpoints)
        return self.probe.snapshot(best) if best is not None else None

    def down_reason(self, model: str) -> str | None:
        """Set when the probe has seen every endpoint of the model and none is healthy."""
        endpoints = self._endpoints.get(model)
        if not endpoints:
            return None
        loads = [self.probe.snapshot(url) for url in endpoints]
        if any(load is None or load.healthy for load in loads):
            return None
        errors = {load.last_error for load in loads if load is not None and load.last_error}
        detail = f" ({'; '.join(sorted(errors))})" if errors else ""
        return redact(f"all {len(endpoints)} endpoint(s) down per the capacity probe{detail}")

    def endpoint_rank(self, endpoint: str) -> tuple[float, ...] | None:
        load = self.probe.snapshot(endpoint)
        if load is None:
            return None
        if not load.healthy:
            return (1.0, 0.0, 0.0, 0.0)
        return (0.0, float(load.waiting), float(load.running), load.kv_cache_usage)

    def describe(self, model: str) -> Mapping[str, float] | None:
        load = self.load(model)
        if load is None:
            return None
        out = {"waiting": float(load.waiting), "running": float(load.running),
               "kv_cache_usage": round(load.kv_cache_usage, 4),
               "tokens_per_s": round(load.tokens_per_s, 1)}
        ttft = predict_ttft(load)
        if ttft is not None:
            out["predicted_ttft_ms"] = round(ttft * 1000.0, 1)
        cost = self._costs.get(model)
        if cost is not None:
            # The numbers behind the price the engine compares, so explain shows why.
            out["utilisation"] = round(utilisation(load, cost.config.max_num_seqs), 4)
            out["price_per_million_usd"] = round(cost.price_per_million(load), 6)
        return out

    def saturation(self, model: str, spill: Spill) -> str | None:
        """Why `model` is saturated under `spill`, with hysteresis; None when it is not.

        Only reads: explain and what-if call it too, and must not change later routing.
        Serving moves the hysteresis state with `remember` once it acts on a decision.
        """
        load = self.load(model)
        if load is None:
            return None
        was = self._saturated.get((model, spill), False)
        # Entering takes one measure over its threshold; leaving takes all under ratio x it.
        factor = spill.resume_ratio if was else 1.0
        over: list[str] = []
        if spill.max_waiting is not None and load.waiting > spill.max_waiting * factor:
            over.append(f"waiting {load.waiting} > {spill.max_waiting * factor:g}")
        if spill.max_kv_cache is not None and load.kv_cache_usage > spill.max_kv_cache * factor:
            over.append(f"KV cache {load.kv_cache_usage:.0%} > {spill.max_kv_cache * factor:.0%}")
        if spill.max_predicted_ttft_ms is not None:
            ttft = predict_ttft(load)
            limit = spill.max_predicted_ttft_ms * factor
            if ttft is not None and ttft * 1000.0 > limit:
                over.append(f"predicted TTFT {ttft * 1000.0:.0f} ms > {limit:.0f} ms")
        return ", ".join(over) if over else None

    def remember(self, checks: Iterable[SpillCheck]) -> None:
        """Move the hysteresis state to what a served decision saw (serving only)."""
        for check in checks:
            self._saturated[(check.model, check.spill)] = check.saturated

    def price(self, model: str) -> ModelPrice | None:
        cost = self._costs.get(model)
        if cost is None:
            return None
        per_m = cost.price_per_million(self.load(model))
        return ModelPrice(per_m, per_m, "local_gpu")
