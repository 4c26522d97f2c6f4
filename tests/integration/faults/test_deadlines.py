"""Deadlines: per attempt and per request, per route; a first-byte limit that means what it says."""

from __future__ import annotations

import json

import openai
import pytest

from tests.integration.faults.conftest import MESSAGES, GatewayFactory, ask, client
from tests.integration.faults.hostile import (
    DONE,
    Hostile,
    chat_completion,
    chunk,
    drip,
    slow_start,
    stream,
)

# One byte every 0.2 s: each gap far inside the 5 s read timeout, the whole far past 1 s.
DRIPPED = json.dumps(chat_completion("x" * 200)).encode()


def test_a_dripping_upstream_is_cut_at_the_attempt_deadline_and_falls_back(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(drip(DRIPPED, every_s=0.2))
    with gateway_for(timeouts={"first_byte_s": 5, "stream_idle_s": 5, "attempt_total_s": 1}
                     ) as gw:
        r = ask(gw)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "hostile:deadline,backup:ok"


def test_a_route_sets_its_own_deadline(hostile: Hostile, gateway_for: GatewayFactory) -> None:
    hostile.play(drip(DRIPPED, every_s=0.2))
    with gateway_for(route_extra="    timeouts: {attempt_total_s: 1}") as gw:
        r = ask(gw)
    assert r.headers["x-junction-attempts"] == "hostile:deadline,backup:ok"


def test_the_request_deadline_bounds_all_attempts(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(drip(DRIPPED, every_s=0.2))
    with gateway_for(fallbacks="[]", timeouts={"request_total_s": 1}) as gw:
        r = ask(gw)
    assert r.status_code == 502
    assert "deadline of 1s" in r.json()["error"]["message"]


def test_first_byte_limit_counts_from_sending_not_twice(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    # Headers after 0.9 s and the first event 0.9 s later: each wait alone is under the 1.5 s
    # first-byte limit, together they are over it.
    hostile.play(slow_start(0.9, 0.9, chunk("late"), DONE))
    with gateway_for(timeouts={"first_byte_s": 1.5, "stream_idle_s": 5}) as gw:
        r = ask(gw, stream=True)
    assert r.headers["x-junction-attempts"] == "hostile:timeout,backup:ok"


def test_a_stream_past_its_deadline_ends_with_an_error_event(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(stream(chunk("started "), then="stall"))
    # 3 s: ample for the first event (sent at once), then the stall runs into the deadline.
    with gateway_for(timeouts={"first_byte_s": 5, "stream_idle_s": 30, "attempt_total_s": 3}
                     ) as gw:
        seen: list[str] = []
        with pytest.raises(openai.APIError, match="deadline of 3s"):
            for part in client(gw).chat.completions.create(
                    model="auto", messages=MESSAGES, stream=True):
                seen.append(part.choices[0].delta.content or "")
    assert seen == ["started "]
