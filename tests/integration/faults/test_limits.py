"""Huge answers: bounded by JUNCTION_LIMITS__MAX_RESPONSE_BYTES before they are buffered."""

from __future__ import annotations

import openai
import pytest

from tests.integration.faults.conftest import MESSAGES, GatewayFactory, ask, client
from tests.integration.faults.hostile import Hostile, chunk, endless_event, flood

LIMIT = 1024 * 1024


def test_declared_huge_body_is_refused_from_its_headers_and_falls_back(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    size = 200 * 1024 * 1024
    hostile.play(flood(size, declared=True))
    with gateway_for(limits={"max_response_bytes": LIMIT}) as gw:
        r = ask(gw)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "hostile:response_too_large,backup:ok"
    # The gateway hung up instead of reading it: only what socket buffers took was written.
    assert hostile.flooded < size // 4


@pytest.mark.parametrize("declared", [True, False])
def test_huge_body_with_nowhere_to_fall_back_is_a_502_naming_the_limit(
    hostile: Hostile, gateway_for: GatewayFactory, declared: bool
) -> None:
    hostile.play(flood(64 * LIMIT, declared=declared))
    with gateway_for(limits={"max_response_bytes": LIMIT}, fallbacks="[]") as gw:
        r = ask(gw)
    assert hostile.flooded < 16 * LIMIT  # refused early, not read whole
    assert r.status_code == 502
    message = r.json()["error"]["message"]
    assert "JUNCTION_LIMITS__MAX_RESPONSE_BYTES" in message and str(LIMIT) in message


def test_an_event_that_never_ends_is_cut_with_an_error_event_naming_the_limit(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(endless_event(chunk("first ")))
    with gateway_for(limits={"max_response_bytes": LIMIT}) as gw:
        seen: list[str] = []
        with pytest.raises(openai.APIError, match="JUNCTION_LIMITS__MAX_RESPONSE_BYTES"):
            for part in client(gw).chat.completions.create(
                    model="auto", messages=MESSAGES, stream=True):
                seen.append(part.choices[0].delta.content or "")
    assert seen == ["first "]
