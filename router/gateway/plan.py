"""The request path's inputs and outputs: body and header parsing, replies, finished requests.

Shared by the serving layer, the API handlers, the recorders and the offline explain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from router.classify.types import Sensitivity
from router.errors import InvalidRequest
from router.gateway.execute import Outcome
from router.policy.decision import Decision
from router.policy.pricing import ModelPrice
from router.providers.base import Usage

SENSITIVITY_HEADER = "x-junction-sensitivity"
# Real requests (tool schemas included) nest a few dozen levels; far deeper bodies only exhaust
# the recursion of whatever reads them next (validation, the classifier, re-encoding).
MAX_JSON_DEPTH = 128


@dataclass(slots=True)
class Reply:
    """A response for the API layer: a whole body, or an async iterator of SSE bytes."""

    status: int
    headers: dict[str, str]
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


@dataclass(slots=True)
class Finished:
    """Everything known about a request once it is over; handed to the recorders."""

    request_id: str
    started: float  # unix time
    decision: Decision | None
    outcome: Outcome | None
    usage: Usage
    cost_usd: float
    status: int
    total_ms: float
    ttft_ms: float | None
    streamed: bool
    key_id: str | None = None
    team: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Recorder = Callable[[Finished], None]


class PriceSource(Protocol):
    def price(self, model: str) -> ModelPrice: ...


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


def is_openai_error(body: bytes) -> bool:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and isinstance(obj.get("error"), dict)
