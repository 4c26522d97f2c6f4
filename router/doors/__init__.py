"""Front doors other than chat completions, and the registry of request shapes.

Each door (`responses`, and the Messages and embeddings doors) translates its request into a
chat-completions body, so that serving, explain and the offline CLI plan every door alike.
`POST /v1/route/explain` finds a body's shape here: `?shape=NAME` names it; without it every
registered detector is asked, and a body no detector claims is read as chat.

A door registers its shape once, from its own module: `register_shape(name, detect, to_chat)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.errors import InvalidRequest
from router.gateway.plan import parse_json

CHAT = "chat"

Detect = Callable[[Mapping[str, Any]], bool]
ToChat = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Shape:
    """One request shape: how to recognise a body of it, and its chat-completions form."""

    name: str
    detect: Detect
    to_chat: ToChat


_SHAPES: dict[str, Shape] = {}


def register_shape(name: str, detect: Detect, to_chat: ToChat) -> None:
    """Add (or replace, on re-import) the shape `name`."""
    _SHAPES[name] = Shape(name, detect, to_chat)


def shape_names() -> list[str]:
    return sorted(_SHAPES)


def resolve_shape(data: Any, requested: str | None) -> Shape:
    """The shape `requested` names, or the one whose detector claims `data`.

    More than one claimant is ambiguous (`{"model", "input"}` is a Responses request and an
    embeddings request alike): the error asks for `?shape=` instead of guessing.
    """
    if requested is not None:
        shape = _SHAPES.get(requested)
        if shape is None:
            raise InvalidRequest(
                f"shape {requested!r} is not a request shape this gateway knows; use one of: "
                f"{', '.join(shape_names())}", param="shape", code="invalid_shape")
        return shape
    if not isinstance(data, dict):
        return _SHAPES[CHAT]  # chat's validation names what is wrong with the body
    claimed = [s for s in _SHAPES.values() if s.name != CHAT and s.detect(data)]
    if len(claimed) > 1:
        names = ", ".join(sorted(s.name for s in claimed))
        raise InvalidRequest(
            f"the body could be any of these request shapes: {names}; name one with "
            "?shape=NAME", param="shape", code="ambiguous_shape")
    return claimed[0] if claimed else _SHAPES[CHAT]


def as_chat_body(raw: bytes, requested: str | None) -> tuple[str, bytes]:
    """The shape of the body `raw` and its chat-completions form (chat bodies unchanged)."""
    if requested is None and not raw:
        return CHAT, raw  # chat's parser says what an empty body should have been
    data = parse_json(raw)
    shape = resolve_shape(data, requested)
    if shape.name == CHAT:
        return CHAT, raw
    return shape.name, orjson.dumps(shape.to_chat(data))


def _is_chat(data: Mapping[str, Any]) -> bool:
    return "messages" in data


def _chat_as_is(data: dict[str, Any]) -> dict[str, Any]:
    return data


register_shape(CHAT, _is_chat, _chat_as_is)
