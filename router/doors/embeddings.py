"""The embeddings door: `POST /v1/embeddings` in OpenAI's wire format, through the gateway.

parse and bound the request -> classify the inputs (the same scanner as chat: sensitive input
stays on local models or is refused) -> decide among the policy's embedding routes and models
-> admit (rate limits, a budget reservation priced on input tokens) -> execute
(`Executor.embed`: attempts, fallbacks, breakers, the egress guard on the exact body) ->
finish (the `x-junction-*` headers, metrics, one record with door ``embeddings``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from router.accounts import Principal
from router.accounts.estimate import TokenBound
from router.classify.types import TOKEN_IDS
from router.doors import register_shape
from router.errors import InvalidRequest
from router.gateway.execute import AllAttemptsFailed, UpstreamRejected
from router.gateway.finish import Reply
from router.gateway.parts import PolicyParts
from router.gateway.plan import (
    PlannedRequest,
    Planner,
    header_sensitivity,
    new_request_id,
    parse_json,
)
from router.gateway.service import ChatService
from router.policy.decision import RequestContext
from router.protocol import ChatCompletionRequest
from router.providers.embedding_shape import EmbeddingAsk, EncodingFormat
from router.settings import EmbeddingsSettings

tracer = trace.get_tracer(__name__)

DOOR = "embeddings"
_FORMATS: tuple[EncodingFormat, ...] = ("float", "base64")
# Token ids are non-negative ints that fit the int32 vocabularies of real tokenizers.
_MAX_TOKEN_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class EmbeddingInput:
    """A validated embeddings request: what to ask for and how big it is."""

    model: str
    ask: EmbeddingAsk
    tokens: tuple[int, ...]  # per input: counted (token ids) or estimated (text, chars / 4)
    token_inputs: int  # inputs given as token ids rather than text
    prompt_bound: int  # an upper bound on the tokens billed, for budget reservations


def parse_embeddings_request(data: Any, limits: EmbeddingsSettings) -> EmbeddingInput:
    """Validate a parsed body as OpenAI does; `InvalidRequest` names the field and the limit."""
    if not isinstance(data, dict):
        raise InvalidRequest(
            f"the request body must be a JSON object, got {type(data).__name__}", param=None)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: is required: 'auto', an embedding route or an embedding "
                             "model of the policy", param="model")
    encoding = data.get("encoding_format", "float")
    if encoding not in _FORMATS:
        raise InvalidRequest(f"encoding_format: {encoding!r} is not supported; use 'float' or "
                             "'base64'", param="encoding_format")
    dimensions = data.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int)
                                   or not 1 <= dimensions <= limits.max_dimensions):
        raise InvalidRequest(f"dimensions: {dimensions!r} must be an integer from 1 to "
                             f"{limits.max_dimensions}", param="dimensions")
    user = data.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest(f"user: must be a string, got {type(user).__name__}", param="user")
    tokens, token_inputs, billed = _read_inputs(data.get("input"), limits)
    return EmbeddingInput(
        model=model,
        ask=EmbeddingAsk(len(tokens), encoding, dimensions),
        tokens=tokens,
        token_inputs=token_inputs,
        prompt_bound=billed,
    )


def _read_inputs(value: Any, limits: EmbeddingsSettings) -> tuple[tuple[int, ...], int, int]:
    """(tokens per input, how many are token ids, a bound on tokens billed) for `input`."""
    allowed = "a string, a list of strings, a list of token ids or a list of token-id lists"
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value:
        items = [value] if all(_is_token(x) for x in value) else value
    elif value is None:
        raise InvalidRequest(f"input: is required: {allowed}", param="input")
    else:
        raise InvalidRequest(f"input: must be {allowed}, not empty", param="input")
    if len(items) > limits.max_inputs:
        raise InvalidRequest(f"input: {len(items)} inputs in one request; at most "
                             f"{limits.max_inputs} are allowed (setting JUNCTION_EMBEDDINGS__"
                             "MAX_INPUTS)", param="input", code="too_many_inputs")
    tokens: list[int] = []
    token_inputs = billed = 0
    for i, item in enumerate(items):
        where = "input" if items is not value else f"input[{i}]"
        if isinstance(item, str):
            if not item:
                raise InvalidRequest(f"{where}: is an empty string; every input needs text",
                                     param=where)
            count = (len(item) + 3) // 4
            billed += len(item.encode("utf-8", "surrogatepass"))
        elif isinstance(item, list) and item and all(_is_token(x) for x in item):
            count = len(item)
            token_inputs += 1
            billed += count
        else:
            raise InvalidRequest(f"{where}: must be a non-empty string or a non-empty list of "
                                 f"token ids (integers 0..{_MAX_TOKEN_ID}); all inputs of a "
                                 "request are of one kind", param=where)
        if count > limits.max_input_tokens:
            raise InvalidRequest(
                f"{where}: about {count} tokens; at most {limits.max_input_tokens} are allowed "
                "per input (setting JUNCTION_EMBEDDINGS__MAX_INPUT_TOKENS); split it",
                param=where, code="input_too_long")
        tokens.append(count)
    kinds = {isinstance(item, str) for item in items}
    if len(kinds) > 1:
        raise InvalidRequest("input: mixes strings and token ids; send one kind per request",
                             param="input")
    return tuple(tokens), token_inputs, billed + 8 * len(items)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) \
        and 0 <= value <= _MAX_TOKEN_ID


@dataclass(slots=True)
class PlannedEmbedding:
    """A planned request (`PlannedRequest`, as chat has) with what embeddings add."""

    request: PlannedRequest
    embedding: EmbeddingInput


def plan_embeddings(
    planner: Planner,
    raw: bytes,
    headers: Mapping[str, str],
    limits: EmbeddingsSettings,
    principal: Principal | None = None,
    budget_pressure: str | None = None,
    t0: float | None = None,
) -> PlannedEmbedding:
    """Parse and classify an embeddings body; pure, like `Planner.prepare`."""
    t0 = time.perf_counter() if t0 is None else t0
    data = parse_json(raw)
    embedding = parse_embeddings_request(data, limits)
    floor = header_sensitivity(headers)
    if principal is not None:
        floor = floor.at_least(principal.default_sensitivity)
    # The scanner reads every forwarded field (`input`, `user`, anything passed through).
    classification = planner.classifier.classify(data, min_sensitivity=floor)
    unscannable = dict(classification.unscannable)
    if embedding.token_inputs:
        unscannable[TOKEN_IDS] = embedding.token_inputs
    classification = dataclasses.replace(
        classification, prompt_tokens=sum(embedding.tokens), unscannable=unscannable,
        capabilities=frozenset())
    ctx = RequestContext(
        requested_model=embedding.model,
        headers=headers,
        max_output_tokens=None,
        key_id=principal.key_id if principal else None,
        team=principal.team if principal else None,
        allowed_models=principal.allowed_models if principal else None,
        allowed_routes=principal.allowed_routes if principal else None,
        budget_pressure=budget_pressure,
        kind="embedding",
    )
    request = PlannedRequest(
        request_id=new_request_id(),
        t0=t0,
        started=time.time(),
        data=data,
        # What the shared rooms read of a chat request: the model, and that nothing streams.
        chat=ChatCompletionRequest.model_construct(model=embedding.model, messages=[],
                                                   stream=False),
        classification=classification,
        ctx=ctx,
        principal=principal,
        door=DOOR,
    )
    return PlannedEmbedding(request, embedding)


class EmbeddingsDoor:
    """Serves `/v1/embeddings` with the chat service's rooms (admission, finisher, the
    policy-bound planner and executor), so policy changes and accounts apply alike."""

    def __init__(self, chat: ChatService, limits: EmbeddingsSettings) -> None:
        self.chat = chat
        self.limits = limits

    async def explain(self, raw: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """The decision serving would make now, for an embeddings body; changes nothing."""
        principal, pressure = await self.chat.admission.caller(headers)
        planner = self.chat.parts.planner
        planned = plan_embeddings(planner, raw, headers, self.limits, principal, pressure)
        out = planner.decide(planned.request).to_dict()
        out["requested_model"] = planned.embedding.model
        out["shape"] = DOOR
        return out

    async def embed(self, raw: bytes, headers: Mapping[str, str]) -> Reply:
        t0 = time.perf_counter()
        chat = self.chat
        parts = chat.parts  # this request's, whatever is activated meanwhile
        principal, pressure = await chat.admission.caller(headers)
        planned = plan_embeddings(parts.planner, raw, headers, self.limits, principal, pressure,
                                  t0)
        req, embedding = planned.request, planned.embedding
        with tracer.start_as_current_span("junction.embeddings") as span:
            span.set_attribute("junction.request_id", req.request_id)
            span.set_attribute("junction.inputs", embedding.ask.inputs)
            reply = await self._serve(parts, req, embedding)
            span.set_attribute("junction.model", reply.headers.get("x-junction-model", ""))
            return reply

    async def _serve(self, parts: PolicyParts, req: PlannedRequest,
                     embedding: EmbeddingInput) -> Reply:
        chat = self.chat
        decision = parts.planner.decide(req)
        if parts.capacity is not None:
            parts.capacity.remember(decision.spill_checks)
        refusal = chat.finisher.refusal(req, decision)
        if refusal is not None:
            raise refusal
        await chat.admission.admit(req, decision, parts.prices,
                                   bound=TokenBound(embedding.prompt_bound, 0))
        try:
            try:
                embedded, outcome = await parts.executor.embed(req.data, decision, embedding.ask)
            except (AllAttemptsFailed, UpstreamRejected) as exc:
                return await chat.finisher.failed(req, decision, exc)
            usage = embedded.usage
            if not usage.reported:
                usage.prompt_tokens = req.classification.prompt_tokens
                embedded.body["usage"] = {"prompt_tokens": usage.prompt_tokens,
                                          "total_tokens": usage.prompt_tokens}
                embedded.raw = None
            model = outcome.model or ""
            cost = parts.prices.price(model).cost(usage.prompt_tokens, 0)
            chat.admission.settle(req, cost)
            total_ms = (time.perf_counter() - req.t0) * 1000.0
            finisher = chat.finisher
            headers_out = finisher.headers(req, decision, outcome, total_ms)
            finisher.metrics.embedding_inputs.labels(model).inc(embedding.ask.inputs)
            await finisher.finish(finisher.finished(
                req, decision, outcome, usage, cost, 200, total_ms, None, streamed=False))
            return Reply(200, headers_out, body=embedded.encoded())
        finally:
            chat.admission.release(req)


# -- the explain registry (`router.doors.register_shape`) --------------------------------------

def looks_like_embeddings(data: Any) -> bool:
    """Whether a body is an embeddings request rather than chat, Messages or Responses.

    A lone string `input` is also a Responses request; only OpenAI's embeddings-only fields or
    an input list of strings or token ids (Responses items are objects) settle it.
    """
    if not isinstance(data, dict) or "input" not in data or "messages" in data:
        return False
    if "encoding_format" in data or "dimensions" in data:
        return True
    value = data["input"]
    return isinstance(value, list) and bool(value) and all(
        isinstance(x, str) or _is_token(x)
        or (isinstance(x, list) and all(_is_token(t) for t in x))
        for x in value)


def embeddings_as_chat(data: Mapping[str, Any]) -> dict[str, Any]:
    """A chat body with the same text (one user message per text input), for registries that
    explain through the chat planner; `EmbeddingsDoor.explain` decides among embedding routes
    and is the exact answer."""
    value = data.get("input")
    texts = [value] if isinstance(value, str) else [
        x for x in value if isinstance(x, str)] if isinstance(value, list) else []
    body: dict[str, Any] = {k: v for k, v in data.items()
                            if k not in ("input", "encoding_format", "dimensions")}
    body["messages"] = [{"role": "user", "content": t} for t in texts] or [
        {"role": "user", "content": ""}]
    return body


def register(register_shape: Callable[[str, Callable[[Any], bool],
                                       Callable[[Mapping[str, Any]], dict[str, Any]]], None]
             ) -> None:
    """Register the embeddings shape with the explain registry (one call at import time of
    the registry's owner)."""
    register_shape(DOOR, looks_like_embeddings, embeddings_as_chat)


# explain's registry: `?shape=embeddings`, or a body with `input` and no Responses-only keys.
register(register_shape)

__all__ = [
    "EmbeddingInput",
    "EmbeddingsDoor",
    "PlannedEmbedding",
    "embeddings_as_chat",
    "looks_like_embeddings",
    "parse_embeddings_request",
    "plan_embeddings",
    "register",
]
