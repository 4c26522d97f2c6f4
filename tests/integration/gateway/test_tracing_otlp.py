"""End to end through OTLP: `junction serve` as a real process exports its spans over OTLP/HTTP
to a receiver that decodes the protobuf as a collector does (no collector is installable here
from a package registry), and the official `openai` client is the caller."""

from __future__ import annotations

from pathlib import Path

from openai import OpenAI

from junction_emulate.otlp import OtlpSink
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL, policy_text
from tests.support.gateway import emulator_requests
from tests.support.junction_process import junction_serve

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{CALLER_TRACE}-b7ad6b7169203331-01"
SERVER, CLIENT, ERROR = 2, 3, 2  # OTLP's SpanKind and StatusCode numbers


def test_spans_reach_an_otlp_receiver_from_a_real_gateway_process(
        vllm_url: str, api_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text(vllm_url, api_url))
    env = {**ENV, "JUNCTION_OTEL_EXPORTER": "otlp", "OTEL_BSP_SCHEDULE_DELAY": "100",
           "JUNCTION_DATA_DIR": str(tmp_path / "data")}
    with OtlpSink().running() as sink:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
        with junction_serve(policy, tmp_path / "serve.log", env) as base:
            client = OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
            raw = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "hello over otlp"}],
                extra_headers={"traceparent": TRACEPARENT})
            request_id = raw.headers["x-junction-request-id"]
            completion = raw.parse()
            # FastAPI's server span ends last, after ours and the attempt's.
            received = sink.wait_for(lambda spans: any(
                s.trace_id == CALLER_TRACE and s.kind == SERVER for s in spans), timeout_s=30)

    ours = [s for s in received if s.trace_id == CALLER_TRACE]
    assert ours, (received, (tmp_path / "serve.log").read_text())
    request = next(s for s in ours if s.attributes.get("junction.request_id") == request_id)
    attempt = next(s for s in ours if s.kind == CLIENT)
    assert request.name == "chat auto"
    assert request.resource["service.name"] == "junction"
    assert request.attributes["gen_ai.operation.name"] == "chat"
    assert request.attributes["gen_ai.response.model"] == LOCAL_MODEL
    assert attempt.attributes["gen_ai.response.id"] == completion.id
    assert completion.usage is not None
    assert request.attributes["gen_ai.usage.output_tokens"] == completion.usage.completion_tokens
    assert request.attributes["junction.route"] == "default"
    assert request.status_code != ERROR
    assert attempt.name == f"chat {LOCAL_MODEL}"
    assert attempt.parent_span_id == request.span_id
    assert attempt.attributes["gen_ai.provider.name"] == "vllm"
    # Every span of the request is in the caller's trace, under the caller's span or ours.
    ids = {s.span_id for s in ours}
    assert all(s.parent_span_id in ids | {"b7ad6b7169203331"} for s in ours), ours
    assert any(s.kind == SERVER for s in ours)
    sent = emulator_requests(vllm_url)[-1]["headers"]["traceparent"]
    assert sent == f"00-{CALLER_TRACE}-{attempt.span_id}-01"
    assert sink.rejected == 0
    assert "hello over otlp" not in str([s.attributes for s in received])
