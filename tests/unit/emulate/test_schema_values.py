"""Placeholder values built from JSON schemas."""

from __future__ import annotations

from typing import Any

import pytest

from junction_emulate.schema_values import placeholder_object


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (None, {}),
        ({"type": "object"}, {}),
        (
            {
                "type": "object",
                "properties": {
                    "s": {"type": "string"},
                    "i": {"type": "integer", "minimum": 3},
                    "n": {"type": "number"},
                    "b": {"type": "boolean"},
                    "e": {"enum": ["b", "a"]},
                    "c": {"const": 7},
                    "d": {"type": "string", "format": "date"},
                    "opt": {"type": ["null", "integer"]},
                    "arr": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["s", "extra"],
            },
            {
                "s": "example",
                "i": 3,
                "n": 1.0,
                "b": True,
                "e": "b",
                "c": 7,
                "d": "2025-01-01",
                "opt": 1,
                "arr": ["example"],
                "extra": "example",
            },
        ),
        (
            {
                "type": "object",
                "properties": {
                    "lead": {"$ref": "#/$defs/Person"},
                    "alt": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
                },
                "$defs": {"Person": {"type": "object", "properties": {"name": {"type": "string"}}}},
            },
            {"lead": {"name": "example"}, "alt": 1},
        ),
    ],
)
def test_placeholder_object(schema: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    assert placeholder_object(schema) == expected


def test_recursive_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }

    value = placeholder_object(schema)
    depth = 0
    while isinstance(value, dict) and value.get("next") is not None:
        value, depth = value["next"], depth + 1
    assert depth < 10
