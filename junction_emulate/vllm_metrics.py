"""vLLM's Prometheus series, under vLLM's own names, labels and buckets, fed by emulated requests.

Each app gets its own CollectorRegistry, so several emulators (and the gateway) can share a
process. KV-cache usage is derived from the running requests' tokens (prompt plus generated)
over the configured capacity; admitting a request past that capacity counts a preemption.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4.encode()
_LABELS = ("model_name", "engine")
# vLLM 0.32's bucket boundaries (vllm/v1/metrics/buckets.py).
_TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
_ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
)  # fmt: skip
_REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
_FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")


class VllmMetrics:
    """The registry behind one vLLM emulator's GET /metrics."""

    def __init__(self, model_name: str, kv_capacity: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        #: The KV cache's size in tokens, read live so runtime config changes apply.
        self.kv_capacity = kv_capacity
        #: Requests admitted and not yet finished: they hold KV-cache tokens.
        self.active: set[VllmRequestObserver] = set()
        labels = (model_name, "0")
        r = self.registry

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, _LABELS, registry=r).labels(*labels)

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, _LABELS, registry=r).labels(*labels)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, _LABELS, registry=r, buckets=buckets).labels(*labels)

        self.running = gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches."
        )
        self.waiting = gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed."
        )
        self.kv_usage = gauge(
            "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."
        )
        self.preemptions = counter(
            "vllm:num_preemptions", "Cumulative number of preemption from the engine."
        )
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter(
            "vllm:generation_tokens", "Number of generation tokens processed."
        )
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            (*_LABELS, "finished_reason"),
            registry=r,
        )
        self.success = {reason: success.labels(*labels, reason) for reason in _FINISHED_REASONS}
        self.ttft = histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            _TTFT_BUCKETS,
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            _ITL_BUCKETS,
        )
        self.e2e = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            _REQUEST_LATENCY_BUCKETS,
        )
        self.queue_time = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            _REQUEST_LATENCY_BUCKETS,
        )

    def observe(self, prompt_tokens: int) -> VllmRequestObserver:
        """An observer for one request that has just arrived."""
        return VllmRequestObserver(self, prompt_tokens)

    def kv_tokens(self) -> int:
        """Tokens held in the (emulated) KV cache by running requests."""
        return sum(request.tokens for request in self.active)

    def render(self, running: int, waiting: int) -> bytes:
        """The Prometheus text exposition, gauges read at scrape time."""
        self.running.set(running)
        self.waiting.set(waiting)
        self.kv_usage.set(min(1.0, self.kv_tokens() / self.kv_capacity()))
        return generate_latest(self.registry)


class VllmRequestObserver:
    """Times one request through vLLM's phases: waiting, first token, each next token, end."""

    __slots__ = ("_arrived", "_done", "_last", "_metrics", "generated", "prompt_tokens")

    def __init__(self, metrics: VllmMetrics, prompt_tokens: int) -> None:
        self._metrics = metrics
        self._arrived = time.perf_counter()
        self._last = self._arrived
        self._done = False
        self.prompt_tokens = prompt_tokens
        self.generated = 0

    @property
    def tokens(self) -> int:
        """Tokens this request holds in the KV cache."""
        return self.prompt_tokens + self.generated

    def admitted(self) -> None:
        """Left the queue: prefill counts, and so may a preemption if the cache is full."""
        metrics = self._metrics
        now = time.perf_counter()
        metrics.queue_time.observe(now - self._arrived)
        metrics.prompt_tokens.inc(self.prompt_tokens)
        if metrics.kv_tokens() + self.prompt_tokens > metrics.kv_capacity():
            metrics.preemptions.inc()
        metrics.active.add(self)

    def emitted(self, tokens: int) -> None:
        """One decode step."""
        metrics = self._metrics
        now = time.perf_counter()
        if self.generated == 0:
            metrics.ttft.observe(now - self._arrived)
        else:
            metrics.itl.observe(now - self._last)
        self._last = now
        self.generated += tokens
        metrics.generation_tokens.inc(tokens)

    def finished(self, reason: str | None) -> None:
        """Ended; a tool call is an ordinary "stop" to the engine, None an abort."""
        if self._done:
            return
        self._done = True
        metrics = self._metrics
        metrics.active.discard(self)
        metrics.e2e.observe(time.perf_counter() - self._arrived)
        label = "abort" if reason is None else ("length" if reason == "length" else "stop")
        metrics.success[label].inc()
