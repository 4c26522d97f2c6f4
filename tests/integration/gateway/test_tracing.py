"""Spans by the OpenTelemetry GenAI conventions, and W3C trace context carried through.

A real gateway under uvicorn, the emulated vLLM and OpenAI-compatible upstreams, and the SDK's
in-memory exporter: one request span with the decision, one CLIENT span per upstream attempt,
and the attempt's context in the `traceparent` the upstream received.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from router.telemetry import configure_tracing
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL, policy_text
from tests.support.gateway import (
    Gateway,
    emulator_config,
    emulator_requests,
    running_gateway,
)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_PARENT}-01"
PROMPT = "trace me please, the secret word is periwinkle"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert configure_tracing(exporter=exporter) is not None
    yield exporter
    # The SDK stays installed for the rest of the session (a process installs it once); a
    # stopped exporter keeps no more spans.
    exporter.shutdown()


@pytest.fixture
def spans_of(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter


@pytest.fixture
def traced(vllm_url: str, api_url: str, tmp_path: Path,
           spans_of: InMemorySpanExporter) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         breaker={"failure_threshold": 50, "cooldown_s": 0.5}) as gw:
        yield gw


def _trace(exporter: InMemorySpanExporter, request_id: str) -> tuple[ReadableSpan,
                                                                       list[ReadableSpan]]:
    """The request span with this Junction request id, and its attempt spans in order."""
    finished = exporter.get_finished_spans()
    requests = [s for s in finished
                if (s.attributes or {}).get("junction.request_id") == request_id]
    assert len(requests) == 1, [(s.name, s.attributes) for s in finished]
    request = requests[0]
    attempts = [s for s in finished if s.parent is not None
                and s.parent.span_id == request.context.span_id and s.kind == SpanKind.CLIENT]
    return request, sorted(attempts, key=lambda s: s.start_time or 0)


def _no_content(spans: list[ReadableSpan]) -> None:
    for span in spans:
        for value in (span.attributes or {}).values():
            assert "periwinkle" not in str(value), span.name


def test_request_and_attempt_spans_follow_the_genai_conventions(
        traced: Gateway, spans_of: InMemorySpanExporter, vllm_url: str) -> None:
    r = httpx.post(traced.v1 + "/chat/completions",
                   headers={"traceparent": TRACEPARENT, "tracestate": "vendor=abc"},
                   json={"model": "auto", "max_tokens": 40, "temperature": 0.3,
                         "messages": [{"role": "user", "content": PROMPT}]})
    assert r.status_code == 200, r.text
    request, attempts = _trace(spans_of, r.headers["x-junction-request-id"])

    assert request.name == "chat auto"
    assert request.context.trace_id == int(CALLER_TRACE, 16)  # the caller's trace continues
    assert request.parent is not None and request.parent.span_id == int(CALLER_PARENT, 16)
    assert request.kind == SpanKind.SERVER
    a = dict(request.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "auto"
    assert a["gen_ai.response.model"] == r.json()["model"]
    assert a["gen_ai.provider.name"] == "vllm"
    usage = r.json()["usage"]
    assert a["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert a["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert a["junction.route"] == "default"
    assert a["junction.task"] == r.headers["x-junction-task"]
    assert a["junction.sensitivity"] == "none"
    assert "junction.spilled" not in a and "junction.exploration" not in a  # only when true
    assert a["junction.model"] == "local"
    assert a["junction.residency"] == "local"
    assert a["junction.cost_usd"] > 0
    assert isinstance(a["junction.policy_version"], int)
    assert request.status.status_code != StatusCode.ERROR

    assert len(attempts) == 1
    attempt = attempts[0]
    assert attempt.name == f"chat {LOCAL_MODEL}"
    assert attempt.kind == SpanKind.CLIENT
    b = dict(attempt.attributes or {})
    port = int(vllm_url.rsplit(":", 1)[1])
    assert (b["server.address"], b["server.port"]) == ("127.0.0.1", port)
    assert b["gen_ai.operation.name"] == "chat"
    assert b["gen_ai.request.model"] == LOCAL_MODEL
    assert b["gen_ai.provider.name"] == "vllm"
    assert b["gen_ai.response.id"] == r.json()["id"]
    assert b["gen_ai.response.model"] == r.json()["model"]
    assert b["gen_ai.response.finish_reasons"] == (r.json()["choices"][0]["finish_reason"],)
    assert b["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert b["gen_ai.request.max_tokens"] == 40
    assert b["gen_ai.request.temperature"] == pytest.approx(0.3)

    # The upstream got the attempt span's context: same trace, the attempt as parent.
    sent = emulator_requests(vllm_url)[-1]["headers"]
    version, trace_id, parent_id, _flags = sent["traceparent"].split("-")
    assert (version, trace_id) == ("00", CALLER_TRACE)
    assert int(parent_id, 16) == attempt.context.span_id
    assert sent["tracestate"] == "vendor=abc"
    _no_content([request, *attempts])


def test_a_streamed_attempt_span_ends_with_the_stream(
        traced: Gateway, spans_of: InMemorySpanExporter) -> None:
    with httpx.stream("POST", traced.v1 + "/chat/completions", json={
            "model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": PROMPT}]}) as r:
        assert r.status_code == 200
        body = r.read()
    assert b"[DONE]" in body
    events = [orjson.loads(line[6:]) for line in body.split(b"\n")
              if line.startswith(b"data: {")]
    usage = next(e["usage"] for e in events if e.get("usage"))
    reasons = [c["finish_reason"] for e in events for c in e.get("choices") or ()
               if c.get("finish_reason")]
    request, attempts = _trace(spans_of, r.headers["x-junction-request-id"])
    assert len(attempts) == 1
    b = dict(attempts[0].attributes or {})
    assert b["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert b["gen_ai.response.finish_reasons"] == tuple(reasons)
    assert b["gen_ai.response.id"] == events[0]["id"]
    # The request span covers the whole stream, the attempt inside it.
    assert (request.end_time or 0) >= (attempts[0].end_time or 0)
    assert 0 < dict(request.attributes or {})["gen_ai.response.time_to_first_chunk"] < 30
    _no_content([request, *attempts])


def test_a_failed_attempt_is_a_span_with_its_error_type(
        traced: Gateway, spans_of: InMemorySpanExporter, vllm_url: str, api_url: str) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=500)
    r = httpx.post(traced.v1 + "/chat/completions", json={
        "model": "auto", "messages": [{"role": "user", "content": PROMPT}]})
    assert r.status_code == 200, r.text
    request, attempts = _trace(spans_of, r.headers["x-junction-request-id"])
    assert [s.name for s in attempts] == [f"chat {LOCAL_MODEL}", "chat api-small"]
    failed, served = attempts
    assert dict(failed.attributes or {})["error.type"] == "500"
    assert failed.status.status_code == StatusCode.ERROR
    assert "error.type" not in dict(served.attributes or {})
    assert dict(served.attributes or {})["gen_ai.provider.name"] == "openai"
    a = dict(request.attributes or {})
    assert a["junction.fallback_reason"] == "500"
    assert a["junction.attempts"] == r.headers["x-junction-attempts"]
    assert a["junction.model"] == "api"
    assert a["junction.residency"] == "external"
    # Each attempt passed its own span's context upstream.
    sent = emulator_requests(api_url)[-1]["headers"]["traceparent"]
    assert int(sent.split("-")[2], 16) == served.context.span_id


def test_a_request_no_model_could_serve_carries_error_type(
        traced: Gateway, spans_of: InMemorySpanExporter, vllm_url: str) -> None:
    emulator_config(vllm_url, fail_next=1, error_status=503)
    r = httpx.post(traced.v1 + "/chat/completions", json={
        "model": "auto", "messages": [{"role": "user",
                                       "content": "my card is 4111 1111 1111 1111"}]})
    assert r.status_code == 503, r.text
    request, attempts = _trace(spans_of, r.headers["x-junction-request-id"])
    a = dict(request.attributes or {})
    assert a["error.type"] == "503"
    assert a["junction.route"] == "sensitive"
    assert a["junction.sensitivity"] != "none"
    assert request.status.status_code == StatusCode.ERROR
    assert [dict(s.attributes or {})["error.type"] for s in attempts] == ["503"]


def test_a_refused_request_still_ends_its_span(
        traced: Gateway, spans_of: InMemorySpanExporter) -> None:
    r = httpx.post(traced.v1 + "/chat/completions", headers={"traceparent": TRACEPARENT},
                   json={"model": "no-such-model", "messages": [{"role": "user",
                                                                 "content": "hi"}]})
    assert r.status_code == 404
    refused = [s for s in spans_of.get_finished_spans()
               if (s.attributes or {}).get("error.type") == "404"]
    assert len(refused) == 1
    assert refused[0].context.trace_id == int(CALLER_TRACE, 16)
    assert not [s for s in spans_of.get_finished_spans() if s.kind == SpanKind.CLIENT]


def test_with_tracing_off_nothing_is_sent_upstream(
        vllm_url: str, api_url: str, tmp_path: Path) -> None:
    """The no-op API (no SDK installed) adds no header: checked in a process of its own."""
    import subprocess
    import sys

    code = f"""
import httpx, sys
from pathlib import Path
from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import emulator_requests, running_gateway
with running_gateway(policy_text({vllm_url!r}, {api_url!r}), Path({str(tmp_path)!r}), ENV) as gw:
    r = httpx.post(gw.v1 + "/chat/completions", headers={{"traceparent": {TRACEPARENT!r}}},
                   json={{"model": "auto", "messages": [{{"role": "user", "content": "hi"}}]}})
    assert r.status_code == 200, r.text
sent = emulator_requests({vllm_url!r})[-1]["headers"]
sys.exit(1 if "traceparent" in sent else 0)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_content_logging_on_still_keeps_text_out_of_spans(
        vllm_url: str, api_url: str, tmp_path: Path, spans_of: InMemorySpanExporter) -> None:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV, log_content=True) as gw:
        r = httpx.post(gw.v1 + "/chat/completions", json={
            "model": "auto", "messages": [{"role": "user", "content": PROMPT}]})
        assert r.status_code == 200
        answer = r.json()["choices"][0]["message"]["content"]
    request, attempts = _trace(spans_of, r.headers["x-junction-request-id"])
    _no_content([request, *attempts])
    assert all(answer not in str(dict(s.attributes or {})) for s in [request, *attempts])


def test_litellm_attempts_pass_trace_context_upstream(
        vllm_url: str, api_url: str, tmp_path: Path, spans_of: InMemorySpanExporter) -> None:
    extra = f"""
  gpt:
    backend: litellm
    model: openai/api-large
    endpoints: ["{api_url}/v1"]
    api_key_env: TEST_API_KEY
"""
    with running_gateway(policy_text(vllm_url, api_url, extra_models=extra), tmp_path,
                         ENV) as gw:
        # The first litellm request waits for litellm's import (seconds on a busy machine).
        r = httpx.post(gw.v1 + "/chat/completions", headers={"traceparent": TRACEPARENT},
                       json={"model": "gpt", "messages": [{"role": "user", "content": "hi"}]},
                       timeout=180)
    assert r.status_code == 200, r.text
    _, attempts = _trace(spans_of, r.headers["x-junction-request-id"])
    assert [s.name for s in attempts] == ["chat api-large"]
    assert dict(attempts[0].attributes or {})["gen_ai.provider.name"] == "openai"
    sent = emulator_requests(api_url)[-1]["headers"]["traceparent"]
    assert sent == f"00-{CALLER_TRACE}-{attempts[0].context.span_id:016x}-01"
