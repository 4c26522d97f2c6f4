"""Behaviour validation and runtime changes."""

from __future__ import annotations

import pytest

from junction_emulate.behaviour import EmulatorBehaviour


def test_changed_validates_and_coerces() -> None:
    behaviour = EmulatorBehaviour().changed(
        {"models": ["a", "b"], "tps": 5, "cut_after_chunks": None}
    )

    assert behaviour.models == ("a", "b")
    assert behaviour.tps == 5.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"error_rate": 1.5}, "error_rate=1.5 is out of range; allowed: 0..1"),
        ({"ttft": -1}, "ttft=-1"),
        ({"error_status": 200}, "error_status=200"),
        ({"tps": "fast"}, "tps='fast' is invalid"),
        ({"speed": 1}, "unknown behaviour field(s) ['speed']; allowed: ["),
    ],
)
def test_changed_rejects_naming_field_and_allowed(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        EmulatorBehaviour().changed(changes)
    assert message in str(raised.value)
