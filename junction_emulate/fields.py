"""Reading request fields, with errors that name the field, the bad value and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from junction_emulate.errors import EmulatedError


def required_str(body: Mapping[str, Any], name: str) -> str:
    """A non-empty string field."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise EmulatedError(
            400, f"{name} is required: a non-empty string, got {value!r}.", param=name
        )
    return value


def required_list(body: Mapping[str, Any], name: str) -> list[Any]:
    """A non-empty array field."""
    value = body.get(name)
    if not isinstance(value, list) or not value:
        raise EmulatedError(
            400, f"{name} is required: a non-empty array, got {_short(value)}.", param=name
        )
    return value


def optional_int(
    body: Mapping[str, Any], name: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    """An integer field within bounds, or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    too_big = maximum is not None and isinstance(value, int) and value > maximum
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_big:
        allowed = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise EmulatedError(
            400, f"{name}={_short(value)} is invalid; allowed: {allowed}.", param=name
        )
    return value


def optional_bool(body: Mapping[str, Any], name: str) -> bool:
    """A boolean field; absent or null is False."""
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise EmulatedError(
            400, f"{name}={_short(value)} is invalid; allowed: true or false.", param=name
        )
    return value


def optional_object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """An object field; absent or null is {}."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EmulatedError(
            400, f"{name}={_short(value)} is invalid; allowed: an object.", param=name
        )
    return value


def message_text(message: Any) -> str:
    """The text of a chat message: its string content, or its text parts joined."""
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."
