"""Each routed request is one OpenTelemetry span, asserted with the SDK's in-memory exporter."""

from __future__ import annotations

from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from router.telemetry import configure_tracing
from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import running_gateway


def test_request_span_carries_the_decision(vllm_url: str, api_url: str, tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = configure_tracing(exporter=exporter)
    assert provider is not None
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV) as gw:
        r = httpx.post(gw.v1 + "/chat/completions", json={
            "model": "auto", "messages": [{"role": "user", "content": "trace me"}]})
    assert r.status_code == 200
    provider.force_flush()
    spans = [s for s in exporter.get_finished_spans() if s.name == "junction.chat"]
    assert spans, [s.name for s in exporter.get_finished_spans()]
    attributes = dict(spans[-1].attributes or {})
    assert attributes["junction.request_id"] == r.headers["x-junction-request-id"]
    assert attributes["junction.route"] == "default"
    assert attributes["junction.model"] == "local"
    assert attributes["junction.sensitivity"] == "none"
    assert "trace me" not in str(attributes)
