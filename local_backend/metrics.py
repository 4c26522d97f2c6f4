"""Read vLLM's Prometheus `/metrics` text into load figures a router can use.

`parse_metrics` turns one scrape into a `MetricsScrape` (cumulative counters and histograms,
summed over the `engine` and `model_name` label sets). `endpoint_load` compares two scrapes of
one endpoint: percentiles come from the difference of the histogram buckets, so they describe
the requests finished *between* the scrapes, not since the server started; throughput comes from
the counters' deltas. The names are those of vLLM 0.32 (`vllm:kv_cache_usage_perc`, not the old
`vllm:gpu_cache_usage_perc`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"
TTFT = "vllm:time_to_first_token_seconds"
ITL = "vllm:inter_token_latency_seconds"
E2E = "vllm:e2e_request_latency_seconds"
QUEUE_TIME = "vllm:request_queue_time_seconds"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
_HISTOGRAMS = (TTFT, ITL, E2E, QUEUE_TIME)


class MetricsParseError(ValueError):
    """The text is not Prometheus exposition format, or lacks vLLM's gauges."""


@dataclass(frozen=True)
class Histogram:
    """A cumulative Prometheus histogram: (upper bound, cumulative count) pairs, +Inf last."""

    buckets: tuple[tuple[float, float], ...] = ()
    total: float = 0.0

    @property
    def count(self) -> float:
        """Observations in the histogram (the +Inf bucket)."""
        return self.buckets[-1][1] if self.buckets else 0.0

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations made since `earlier`; `self` as is after a reset (server restart)."""
        if [b for b, _ in earlier.buckets] != [b for b, _ in self.buckets]:
            return self
        pairs = zip(self.buckets, earlier.buckets, strict=True)
        deltas = tuple((bound, now - then) for (bound, now), (_, then) in pairs)
        if any(d < 0 for _, d in deltas):
            return self
        return Histogram(deltas, self.total - earlier.total)

    def quantile(self, q: float) -> float | None:
        """The q-quantile, interpolated linearly inside its bucket as PromQL's
        histogram_quantile does; None without observations. Past the last finite bound it
        answers that bound: the histogram cannot say more.
        """
        count = self.count
        if count <= 0:
            return None
        rank = q * count
        lower, below = 0.0, 0.0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                in_bucket = cumulative - below
                if in_bucket <= 0:
                    return bound
                return lower + (bound - lower) * (rank - below) / in_bucket
            lower, below = bound, cumulative
        return lower

    def mean(self) -> float | None:
        """Mean observation, or None without observations."""
        return self.total / self.count if self.count > 0 else None


@dataclass(frozen=True)
class MetricsScrape:
    """One `/metrics` scrape of one vLLM server, summed over its engines; `at` is monotonic."""

    at: float
    running: float
    waiting: float
    kv_cache_usage: float
    prompt_tokens: float
    generation_tokens: float
    ttft: Histogram
    itl: Histogram
    e2e: Histogram
    queue_time: Histogram


@dataclass(frozen=True)
class EndpointLoad:
    """What a router needs to know about one vLLM endpoint now. Latencies are in seconds and
    describe recent requests (see `endpoint_load`); None means no request finished yet.
    """

    endpoint: str
    healthy: bool
    running: int = 0
    waiting: int = 0
    kv_cache_usage: float = 0.0
    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    itl_p50_s: float | None = None
    itl_p95_s: float | None = None
    e2e_p50_s: float | None = None
    queue_p50_s: float | None = None
    prompt_tokens_per_s: float = 0.0
    generation_tokens_per_s: float = 0.0
    last_error: str | None = None
    last_scrape_at: float | None = None  # wall-clock time (time.time()) of the last good scrape
    consecutive_failures: int = 0

    @property
    def tokens_per_s(self) -> float:
        """Prompt plus generated tokens per second over the last scrape interval."""
        return self.prompt_tokens_per_s + self.generation_tokens_per_s


def parse_metrics(text: str, at: float) -> MetricsScrape:
    """Parse one `/metrics` text taken at monotonic time `at`."""
    gauges: dict[str, list[float]] = defaultdict(list)
    buckets: dict[str, dict[float, float]] = {name: defaultdict(float) for name in _HISTOGRAMS}
    sums: dict[str, float] = defaultdict(float)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                name: str = sample.name
                value = float(sample.value)
                if name.endswith("_bucket") and name[: -len("_bucket")] in buckets:
                    buckets[name[: -len("_bucket")]][float(sample.labels["le"])] += value
                elif name.endswith("_sum") and name[: -len("_sum")] in buckets:
                    sums[name[: -len("_sum")]] += value
                elif name in (RUNNING, WAITING, KV_CACHE_USAGE, PROMPT_TOKENS, GENERATION_TOKENS):
                    gauges[name].append(value)
    except (ValueError, KeyError, IndexError) as exc:
        raise MetricsParseError(f"cannot parse /metrics text: {exc}") from exc
    missing = [n for n in (RUNNING, WAITING, KV_CACHE_USAGE) if n not in gauges]
    if missing:
        raise MetricsParseError(f"/metrics has no {', '.join(missing)}: is this a vLLM server?")

    def histogram(name: str) -> Histogram:
        return Histogram(tuple(sorted(buckets[name].items())), sums[name])

    usage = gauges[KV_CACHE_USAGE]
    return MetricsScrape(
        at=at,
        running=sum(gauges[RUNNING]),
        waiting=sum(gauges[WAITING]),
        # Engines share the load (data parallel), so their mean is the deployment's usage.
        kv_cache_usage=sum(usage) / len(usage),
        prompt_tokens=sum(gauges[PROMPT_TOKENS]),
        generation_tokens=sum(gauges[GENERATION_TOKENS]),
        ttft=histogram(TTFT),
        itl=histogram(ITL),
        e2e=histogram(E2E),
        queue_time=histogram(QUEUE_TIME),
    )


def _rate(current: float, earlier: float, seconds: float) -> float:
    if seconds <= 0:
        return 0.0
    # A counter that went down was reset by a restart: everything it holds is new.
    delta = current - earlier if current >= earlier else current
    return delta / seconds


def _recent(
    window: Histogram, fallback: tuple[float | None, float | None]
) -> tuple[float | None, float | None]:
    if window.count <= 0:
        # Nothing finished between the scrapes: keep the last recent figures rather than
        # forgetting what the endpoint is like while it idles.
        return fallback
    return (window.quantile(0.5), window.quantile(0.95))


def endpoint_load(
    endpoint: str,
    current: MetricsScrape,
    earlier: MetricsScrape | None,
    previous: EndpointLoad | None,
    scraped_at_wall: float,
) -> EndpointLoad:
    """The load of `endpoint` from two consecutive scrapes. With no earlier scrape the
    percentiles cover everything since the server started and throughput is 0.
    """
    def window(pick: Callable[[MetricsScrape], Histogram]) -> Histogram:
        return pick(current) if earlier is None else pick(current).minus(pick(earlier))

    last = previous or EndpointLoad(endpoint=endpoint, healthy=True)
    ttft = _recent(window(lambda s: s.ttft), (last.ttft_p50_s, last.ttft_p95_s))
    itl = _recent(window(lambda s: s.itl), (last.itl_p50_s, last.itl_p95_s))
    e2e = _recent(window(lambda s: s.e2e), (last.e2e_p50_s, None))
    queue = _recent(window(lambda s: s.queue_time), (last.queue_p50_s, None))
    seconds = current.at - earlier.at if earlier else 0.0
    return EndpointLoad(
        endpoint=endpoint,
        healthy=True,
        running=round(current.running),
        waiting=round(current.waiting),
        kv_cache_usage=current.kv_cache_usage,
        ttft_p50_s=ttft[0],
        ttft_p95_s=ttft[1],
        itl_p50_s=itl[0],
        itl_p95_s=itl[1],
        e2e_p50_s=e2e[0],
        queue_p50_s=queue[0],
        prompt_tokens_per_s=(
            _rate(current.prompt_tokens, earlier.prompt_tokens, seconds) if earlier else 0.0
        ),
        generation_tokens_per_s=(
            _rate(current.generation_tokens, earlier.generation_tokens, seconds) if earlier else 0.0
        ),
        last_scrape_at=scraped_at_wall,
    )
