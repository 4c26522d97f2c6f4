"""Front doors: other APIs' request shapes translated to and from chat completions.

Each door (Anthropic Messages, OpenAI Responses, embeddings) is one module here, pure (no HTTP
framework, no I/O); its routes live in `router/api/`. `register_shape` records how a door's
request is recognised and turned into a chat-completions body, so `POST /v1/route/explain`
accepts every door's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Detect = Callable[[Mapping[str, Any]], bool]
ToChat = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Shape:
    """One door's request shape: how to recognise it and how to turn it into chat."""

    name: str
    detect: Detect
    to_chat: ToChat


SHAPES: dict[str, Shape] = {}


def register_shape(name: str, detect: Detect, to_chat: ToChat) -> None:
    """Make a door's request shape known to explain (`?shape=name` or auto-detection)."""
    SHAPES[name] = Shape(name, detect, to_chat)
