"""Span attributes by the OpenTelemetry GenAI semantic conventions, and Junction's own.

Names follow the GenAI registry (`gen_ai.*`, `server.*`, `error.type`); Junction's decision
attributes carry the `junction.` prefix. Only the OpenTelemetry API is used here: the SDK is
configured once in `router.telemetry`. Callers build attributes only for a span that records,
so a gateway without tracing pays nothing for them. No prompt or completion text goes into a
span: content stays in the records, and only where the operator enabled content logging.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from router.policy.schema import ModelSpec

tracer = trace.get_tracer("router.gateway")
_PROPAGATOR = TraceContextTextMapPropagator()

OPERATION = "chat"

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# Upstream answers are untrusted: what goes into a span from them is bounded.
_MAX_ID_CHARS = 128
_MAX_REASONS = 8

# litellm model ids start with their provider; these map onto the registry's well-known names.
_LITELLM_PROVIDERS = {
    "openai": "openai", "azure": "azure.ai.openai", "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic", "gemini": "gcp.gemini", "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock", "cohere": "cohere", "mistral": "mistral_ai", "groq": "groq",
    "deepseek": "deepseek", "xai": "x_ai", "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}


def provider_name(spec: ModelSpec) -> str:
    """`gen_ai.provider.name` for a model: vLLM for local ones, the API's name otherwise."""
    if spec.backend == "local":
        return "vllm"
    if spec.backend == "openai":
        return "openai"
    prefix, slash, _ = spec.model.partition("/")
    if slash:
        return _LITELLM_PROVIDERS.get(prefix, prefix)
    if spec.model.startswith("claude"):
        return "anthropic"
    if spec.model.startswith("gemini"):
        return "gcp.gemini"
    return "openai"


def upstream_model(spec: ModelSpec) -> str:
    """The model name the upstream knows: a litellm id without its provider prefix."""
    if spec.backend == "litellm":
        return spec.model.partition("/")[2] or spec.model
    return spec.model


@lru_cache(maxsize=256)
def server_attributes(endpoint: str) -> tuple[tuple[str, str | int], ...]:
    """`server.address` and `server.port` of an endpoint URL (credentials never included)."""
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return ()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return ((SERVER_ADDRESS, parts.hostname), (SERVER_PORT, port))


def request_attributes(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The GenAI request attributes of a chat body sent to (or asked of) `model`."""
    attributes: dict[str, Any] = {OPERATION_NAME: OPERATION, REQUEST_MODEL: model}
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool):
        attributes[REQUEST_MAX_TOKENS] = limit
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        attributes[REQUEST_TEMPERATURE] = float(temperature)
    return attributes


def completion_attributes(body: bytes) -> dict[str, Any]:
    """`gen_ai.response.id`, `.model` and `.finish_reasons` of a whole chat completion."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(obj, dict):
        return {}
    attributes = response_identity(obj)
    choices = obj.get("choices")
    if isinstance(choices, list):
        reasons = [c.get("finish_reason") for c in choices[:_MAX_REASONS] if isinstance(c, dict)]
        kept = [r[:32] for r in reasons if isinstance(r, str)]
        if kept:
            attributes[RESPONSE_FINISH_REASONS] = kept
    return attributes


def response_identity(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The response id and model of one completion or chunk object, bounded."""
    attributes: dict[str, Any] = {}
    for name, key in ((RESPONSE_ID, "id"), (RESPONSE_MODEL, "model")):
        value = obj.get(key)
        if isinstance(value, str) and value:
            attributes[name] = value[:_MAX_ID_CHARS]
    return attributes


def usage_attributes(prompt: int, completion: int, reasoning: int) -> dict[str, int]:
    attributes = {USAGE_INPUT_TOKENS: prompt, USAGE_OUTPUT_TOKENS: completion}
    if reasoning:
        attributes[USAGE_REASONING_TOKENS] = reasoning
    return attributes


def start_request_span(headers: Mapping[str, str]) -> Span:
    """The span of one request through the gateway.

    Under a server span (FastAPI's own, which already continued the caller's trace) it is an
    INTERNAL child; otherwise it is the SERVER span and continues the caller's W3C trace
    context (`traceparent`, `tracestate`) itself.
    """
    if trace.get_current_span().get_span_context().is_valid:
        return tracer.start_span(OPERATION, kind=SpanKind.INTERNAL)
    context = _PROPAGATOR.extract(headers) if "traceparent" in headers else None
    return tracer.start_span(OPERATION, context=context, kind=SpanKind.SERVER)


def start_attempt_span(spec: ModelSpec, endpoint: str | None,
                       upstream: Mapping[str, Any]) -> Span:
    """A CLIENT span for one upstream attempt, named "chat {model}" as the conventions ask."""
    model = upstream_model(spec)
    span = tracer.start_span(f"{OPERATION} {model}", kind=SpanKind.CLIENT)
    if span.is_recording():
        attributes = request_attributes(upstream, model)
        attributes[PROVIDER_NAME] = provider_name(spec)
        if endpoint:
            attributes.update(server_attributes(endpoint))
        span.set_attributes(attributes)
    return span


def fail(span: Span, error_type: str, message: str | None = None) -> None:
    """Mark a recording span failed with `error.type` (a low-cardinality kind) and end it."""
    if span.is_recording():
        span.set_attribute(ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR, message))
    span.end()
