"""Upstream answers are untrusted: lying usage, 200s that are errors, streams that break."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.integration.faults.conftest import (
    MESSAGES,
    GatewayFactory,
    ask,
    client,
    record_of,
)
from tests.integration.faults.hostile import (
    DONE,
    Hostile,
    chunk,
    completion,
    raw,
    stream,
    usage_event,
)

BAD_USAGE: list[Any] = [
    {"prompt_tokens": "abc", "completion_tokens": 3},
    {"prompt_tokens": -5, "completion_tokens": 3},
    {"prompt_tokens": 10**15, "completion_tokens": 3},
    {"prompt_tokens": 1.5, "completion_tokens": 3},
    {"prompt_tokens": True, "completion_tokens": 3},
    {"prompt_tokens": 4, "completion_tokens": 3, "completion_tokens_details": "lots"},
    {"prompt_tokens": 4, "completion_tokens": 3,
     "completion_tokens_details": {"reasoning_tokens": "x"}},
    "lots of tokens",
    [1, 2],
]


@pytest.mark.parametrize("usage", BAD_USAGE)
def test_malformed_usage_is_ignored_and_estimated(
    hostile: Hostile, gateway_for: GatewayFactory, usage: Any
) -> None:
    hostile.play(completion("fine answer", usage=usage))
    with gateway_for() as gw:
        r = ask(gw)
        assert r.status_code == 200, r.text
        assert r.headers["x-junction-attempts"] == "hostile:ok"
        assert r.json()["choices"][0]["message"]["content"] == "fine answer"
        record = record_of(gw, r.headers["x-junction-request-id"])
    # Estimated from the prompt, not the lie; never a crash.
    assert 0 < record.tokens_in < 100 and record.cost_usd > 0


def test_valid_usage_is_still_taken(hostile: Hostile, gateway_for: GatewayFactory) -> None:
    hostile.play(completion(usage={"prompt_tokens": 1234, "completion_tokens": 56}))
    with gateway_for() as gw:
        r = ask(gw)
        record = record_of(gw, r.headers["x-junction-request-id"])
    assert (record.tokens_in, record.tokens_out) == (1234, 56)


@pytest.mark.parametrize("usage", BAD_USAGE[:3])
def test_malformed_usage_in_a_stream_does_not_cut_it(
    hostile: Hostile, gateway_for: GatewayFactory, usage: Any
) -> None:
    hostile.play(stream(chunk("Hel"), chunk("lo"), usage_event(usage), DONE))
    with gateway_for() as gw:
        raw_reply = client(gw).chat.completions.with_raw_response.create(
            model="auto", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
        parts = list(raw_reply.parse())
        text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
        assert text == "Hello"
        record = record_of(gw, raw_reply.headers["x-junction-request-id"])
    # Estimated: the prompt as classified, one token per event (the usage event too).
    assert record.status == 200 and record.tokens_out == 3 and 0 < record.tokens_in < 100


ERROR_200 = {
    "error body": (b'{"error": {"message": "model overloaded", "type": "server_error"}}',
                   "error_body"),
    "truncated JSON": (b'{"id": "chatcmpl-1", "choices": [{"index": 0, "mess', "invalid_response"),
    "not JSON": (b"<html>502 Bad Gateway</html>", "invalid_response"),
    "not an object": (b"[1, 2, 3]", "invalid_response"),
    "no choices": (b'{"id": "x", "object": "chat.completion"}', "invalid_response"),
}


@pytest.mark.parametrize("case", list(ERROR_200))
def test_200_that_is_not_an_answer_falls_back_and_counts_against_the_breaker(
    hostile: Hostile, gateway_for: GatewayFactory, case: str
) -> None:
    body, outcome = ERROR_200[case]
    hostile.play(*[raw(200, body)] * 3)
    with gateway_for() as gw:
        for _ in range(3):
            r = ask(gw)
            assert r.status_code == 200
            assert r.headers["x-junction-attempts"] == f"hostile:{outcome},backup:ok"
        # Three failures (the threshold): the breaker opened, the hostile one is skipped.
        r = ask(gw)
        assert r.headers["x-junction-attempts"] == "backup:ok"
        assert "circuit open" in gw.app.state.breakers.blocked_reason("hostile")
    assert len(hostile.seen) == 3


def test_200_error_body_with_nowhere_to_fall_back_is_a_502(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(raw(200, ERROR_200["error body"][0]))
    with gateway_for(fallbacks="[]") as gw:
        r = ask(gw)
    assert r.status_code == 502
    error = r.json()["error"]
    assert "model overloaded" in error["message"] and "error_body" in error["message"]


def test_stream_whose_first_event_is_an_error_falls_back(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    hostile.play(stream(error, DONE))
    with gateway_for() as gw:
        r = ask(gw, stream=True)
    assert r.status_code == 200
    assert r.headers["x-junction-attempts"] == "hostile:error_event,backup:ok"
    assert r.text.rstrip().endswith("data: [DONE]")


def test_stream_cut_after_the_first_byte_ends_with_an_error_and_counts_against_the_breaker(
    hostile: Hostile, gateway_for: GatewayFactory
) -> None:
    hostile.play(*[stream(chunk("partial "), then="cut")] * 3)
    with gateway_for() as gw:
        for _ in range(3):
            with pytest.raises(openai.APIError, match="upstream"):
                for _part in client(gw).chat.completions.create(
                        model="auto", messages=MESSAGES, stream=True):
                    pass
        r = ask(gw, stream=True)
        assert r.headers["x-junction-attempts"] == "backup:ok"
        assert r.text.rstrip().endswith("data: [DONE]")
        assert "circuit open" in gw.app.state.breakers.blocked_reason("hostile")
    assert len(hostile.seen) == 3
