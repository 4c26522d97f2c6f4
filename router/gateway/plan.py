"""Planning: parse -> classify -> decide, shared by serving, explain and the offline CLI.

Also the body and header parsing other handlers reuse (feedback reads JSON the same way).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry.trace import Span

from router.accounts import Principal, Reservation
from router.classify.types import Classification, Classifier, Sensitivity
from router.errors import InvalidRequest, NotFound
from router.policy.decision import Decision, RequestContext
from router.policy.engine import PolicyEngine, UnknownModel
from router.protocol import ChatCompletionRequest, parse_chat_request

SENSITIVITY_HEADER = "x-junction-sensitivity"
# Real requests (tool schemas included) nest a few dozen levels; far deeper bodies only exhaust
# the recursion of whatever reads them next (validation, the classifier, re-encoding).
MAX_JSON_DEPTH = 128


@dataclass(slots=True)
class PlannedRequest:
    """One request once parsed, classified and given its context; the rooms after planning
    (admit, execute, finish) add to it what they learn."""

    request_id: str
    t0: float  # perf_counter at arrival
    started: float  # unix time
    data: dict[str, Any]
    chat: ChatCompletionRequest
    classification: Classification
    ctx: RequestContext
    principal: Principal | None = None
    reservation: Reservation | None = None
    span: Span | None = None  # the request's span until finishing ends it
    door: str = "chat"  # the API it came through, for the record (chat, embeddings...)
    budget_used_share: float | None = None  # at admission, for the record


def new_request_id() -> str:
    """Junction's id for one request: in headers, error bodies, logs and records."""
    return "jr-" + uuid.uuid4().hex


class Planner:
    """Parse -> classify -> decide. Pure but for the clock: serving, explain and the offline
    CLI share it, so they decide alike, and nothing here moves routing state."""

    def __init__(self, classifier: Classifier, engine: PolicyEngine) -> None:
        self.classifier = classifier
        self.engine = engine

    def prepare(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        principal: Principal | None = None,
        budget_pressure: str | None = None,
        t0: float | None = None,
    ) -> PlannedRequest:
        t0 = time.perf_counter() if t0 is None else t0
        data = parse_json(raw)
        chat = parse_chat_request(data)
        floor = header_sensitivity(headers)
        if principal is not None:
            floor = floor.at_least(principal.default_sensitivity)
        classification = self.classifier.classify(data, min_sensitivity=floor)
        ctx = RequestContext(
            requested_model=chat.model,
            headers=headers,
            max_output_tokens=chat.output_limit,
            key_id=principal.key_id if principal else None,
            team=principal.team if principal else None,
            allowed_models=principal.allowed_models if principal else None,
            allowed_routes=principal.allowed_routes if principal else None,
            budget_pressure=budget_pressure,
            messages=data.get("messages") or (),
        )
        return PlannedRequest(
            request_id=new_request_id(),
            t0=t0,
            started=time.time(),
            data=data,
            chat=chat,
            classification=classification,
            ctx=ctx,
            principal=principal,
        )

    def decide(self, req: PlannedRequest) -> Decision:
        try:
            return self.engine.decide(req.classification, req.ctx)
        except UnknownModel:
            policy = self.engine.policy
            names = sorted(["auto", *policy.models, *(r.name for r in policy.routes)])
            raise NotFound(
                f"model {req.chat.model!r} is not 'auto', a route or a model of this gateway's "
                f"policy; choose one of: {', '.join(names)}",
                param="model",
                code="model_not_found",
            ) from None

    def explain(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        principal: Principal | None = None,
        budget_pressure: str | None = None,
    ) -> dict[str, Any]:
        """What `POST /v1/route/explain` and `junction route explain` print; changes nothing."""
        req = self.prepare(raw, headers, principal, budget_pressure)
        out = self.decide(req).to_dict()
        out["requested_model"] = req.chat.model
        return out


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON chat-completions request")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}",
                             code="invalid_json") from None
    depth = json_depth(data, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise InvalidRequest(
            f"the request body nests more than {MAX_JSON_DEPTH} levels deep; at most "
            f"{MAX_JSON_DEPTH} are allowed", code="invalid_json")
    return data


def json_depth(value: Any, limit: int) -> int:
    """How deep arrays and objects nest in `value`, counting no further than `limit` + 1.

    Iterative, so that measuring a hostile body cannot itself exhaust the stack.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return deepest


def header_sensitivity(headers: Mapping[str, str]) -> Sensitivity:
    value = headers.get(SENSITIVITY_HEADER)
    if value is None:
        return Sensitivity.NONE
    try:
        return Sensitivity(value.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Sensitivity)
        raise InvalidRequest(
            f"header {SENSITIVITY_HEADER}: {value!r} is not a sensitivity level; "
            f"use one of: {allowed}",
            param=SENSITIVITY_HEADER,
            code="invalid_sensitivity",
        ) from None
