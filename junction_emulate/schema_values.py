"""Placeholder values that satisfy a JSON schema, for emulated tool arguments and JSON replies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 8
_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def placeholder_object(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON object for an object schema: every declared property and every required one."""
    value = placeholder_value(schema or {}, schema or {})
    return value if isinstance(value, dict) else {}


def placeholder_value(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> Any:
    """A value of the type `schema` describes; `root` resolves local `$ref`s (`#/$defs/...`)."""
    if depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(combinator, ()) if isinstance(o, Mapping)]
        usable = [o for o in options if _resolve(o, root).get("type") != "null"]
        if usable or options:
            return placeholder_value((usable or options)[0], root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        if not isinstance(items, Mapping):
            return []
        return [placeholder_value(items, root, depth + 1) for _ in range(min(count, 3))]
    if kind == "integer":
        return _number(schema, 1)
    if kind == "number":
        return float(_number(schema, 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _STRING_FORMATS.get(str(schema.get("format", "")), "example")


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    value = {
        name: placeholder_value(sub if isinstance(sub, Mapping) else {}, root, depth + 1)
        for name, sub in properties.items()
    }
    for name in schema.get("required", ()):
        value.setdefault(str(name), "example")
    return value


def _number(schema: Mapping[str, Any], fallback: float) -> Any:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(low, int | float):
        return low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if isinstance(high, int | float) and high < fallback:
        return high
    return fallback


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    # Follows local references only, a bounded number of hops to survive cycles.
    for _ in range(_MAX_DEPTH):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            return {}
        schema = target
    return schema
