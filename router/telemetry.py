"""The only module that touches the OpenTelemetry SDK and the Prometheus registry.

Library code uses `trace.get_tracer(__name__)` (API only); `configure_tracing` installs the SDK
once at start-up. Metrics live on a `Metrics` object built per app, so tests get a fresh one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1)


class Metrics:
    """Junction's Prometheus metrics on a registry of their own.

    With several workers (`shared_dir` given, and `PROMETHEUS_MULTIPROC_DIR` set before
    prometheus_client was imported, which `share_metrics` arranges) each worker writes its
    values to files there, and a scrape of any worker adds up every worker's files.
    """

    def __init__(self, shared_dir: Path | None = None) -> None:
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "junction_requests", "Chat requests by route, model that answered, and status.",
            ["route", "model", "status"], registry=r,
        )
        self.attempts = Counter(
            "junction_upstream_attempts", "Upstream attempts by model and outcome.",
            ["model", "outcome"], registry=r,
        )
        self.latency = Histogram(
            "junction_request_duration_seconds", "Whole request time, upstream included.",
            ["route", "model"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            "junction_time_to_first_token_seconds", "Time to the first streamed byte.",
            ["route", "model"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.overhead = Histogram(
            "junction_overhead_seconds", "Time spent in Junction, upstream time excluded.",
            buckets=_OVERHEAD_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            "junction_tokens", "Tokens by model and direction (prompt, completion, reasoning).",
            ["model", "direction"], registry=r,
        )
        self.cost = Counter(
            "junction_cost_usd", "Dollars spent by route and model.", ["route", "model"],
            registry=r,
        )
        self.residency = Counter(
            "junction_requests_by_residency",
            "Requests by where they were served (local, external) and sensitivity level.",
            ["residency", "sensitivity"], registry=r,
        )
        self.settlements_dropped = Counter(
            "junction_settlements_dropped",
            "Budget settlements given up while Redis was unreachable (the spend went unrecorded), "
            "by reason: queue_full, attempts_exhausted, shutdown, error.",
            ["reason"], registry=r,
        )
        self.records_dropped = Counter(
            "junction_records_dropped",
            "Request records not written to the database because its write queue was full.",
            registry=r,
        )
        self.spillover = Counter(
            "junction_spillover", "Requests that left their first choice, by route and reason.",
            ["route", "reason"], registry=r,
        )
        self.egress_refused = Counter(
            "junction_egress_refused",
            "Bodies the egress guard kept from an external model, by model and kind found "
            "(a sensitive kind, or unscannable_image/_audio/_file).",
            ["model", "kind"], registry=r,
        )
        self.rejected = Counter(
            "junction_rejected", "Requests refused before any upstream call, by code.",
            ["code"], registry=r,
        )
        # Embeddings requests count in junction_requests (by their route) like chat ones.
        self.embedding_inputs = Counter(
            "junction_embedding_inputs", "Inputs embedded (/v1/embeddings), by model.",
            ["model"], registry=r,
        )

    def render(self) -> bytes:
        if self.shared_dir is None:
            return generate_latest(self.registry)
        # Every worker's values, this one's included, read from their files.
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=str(self.shared_dir))  # type: ignore[no-untyped-call]
        return generate_latest(combined)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def share_metrics(given: Path | None) -> tuple[Path, bool]:
    """Prepare the directory several workers share their metrics in, before they start.

    A given directory is emptied (files of an earlier start would count twice); otherwise a
    fresh one is made. Returns it and whether it is ours to remove at exit. The workers learn it
    from prometheus_client's environment variable, which it reads when a worker imports it
    (and from their settings' `metrics_dir`). Counters and
    histograms of a worker that died stay in the sum (dropping them would make totals go
    backwards, which Prometheus reads as a reset); Junction keeps no per-process gauges.
    """
    if given is None:
        path, owned = Path(tempfile.mkdtemp(prefix="junction-metrics-")), True
    else:
        given.mkdir(parents=True, exist_ok=True)
        for stale in given.glob("*.db"):
            stale.unlink()
        path, owned = given, False
    os.environ[MULTIPROC_ENV] = str(path)
    return path, owned


_configured: TracerProvider | None = None


def tracing_enabled() -> bool:
    """Whether spans go anywhere in this process (the request path skips the work if not)."""
    return _configured is not None


def configure_tracing(
    kind: str = "none",
    *,
    service_name: str = "junction",
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """Install the SDK tracer provider once per process when spans have somewhere to go.

    `exporter` (tests: an InMemorySpanExporter) is exported synchronously, and is added to the
    provider already installed if there is one; `kind` "otlp" and "console" are batched. With
    nothing to export the API's no-op tracer stays, at no cost.
    """
    global _configured
    if _configured is not None:
        if exporter is not None:
            _configured.add_span_processor(SimpleSpanProcessor(exporter))
        return _configured
    if exporter is None and kind == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif kind == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = provider
    return provider


def shutdown_tracing() -> None:
    """Export the spans still batched (at shutdown); the provider stays installed."""
    if _configured is not None:
        _configured.force_flush()
