"""Pure pieces of the untrusted-upstream handling: usage, Retry-After, SSE splitting, redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from router.providers.base import Usage, retry_after_seconds
from router.providers.openai_http import chat_url
from router.providers.sse import EventSplitter, EventTooLarge
from router.redact import RedactingFilter, redact


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": "12"}, {"prompt_tokens": -1}, {"completion_tokens": 10**12},
    {"prompt_tokens": 2.0}, {"prompt_tokens": False}, {"completion_tokens_details": []},
    {"completion_tokens_details": {"reasoning_tokens": -3}}, None, "x", 7,
])
def test_invalid_usage_is_refused_whole(usage: Any) -> None:
    got = Usage(prompt_tokens=5)
    assert got.update_from(usage) is False
    assert got == Usage(prompt_tokens=5)


def test_valid_usage_is_taken() -> None:
    got = Usage()
    assert got.update_from({"prompt_tokens": 3, "completion_tokens": 4,
                            "completion_tokens_details": {"reasoning_tokens": 2}})
    assert got == Usage(3, 4, 2, reported=True)
    assert Usage().update_from({"prompt_tokens": 3, "completion_tokens": None,
                                "completion_tokens_details": None})


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "seconds"), [
    ("30", 30.0), (" 7 ", 7.0), ("Thu, 01 Jan 2026 12:02:00 GMT", 120.0),
    ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0), ("soon", None), ("-5", None), ("", None),
    (None, None), ("1.5", None),
])
def test_retry_after_forms(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


def split_all(splitter: EventSplitter, pieces: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for piece in pieces:
        out += splitter.feed(piece)
    return out


STREAM = b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\n\n\n\ndata: [DONE]\r\n\r\n'
EXPECTED = [b'data: {"a": 1}\n\n', b'data: {"b": 2}\n\n', b"data: [DONE]\n\n"]


@pytest.mark.parametrize("crlf", [True, False])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_events_split_the_same_however_the_bytes_arrive(size: int, crlf: bool) -> None:
    data = STREAM if crlf else STREAM.replace(b"\r\n", b"\n")
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    splitter = EventSplitter()
    assert split_all(splitter, pieces) == EXPECTED
    assert splitter.rest() == b""


def test_a_huge_event_in_many_pieces_arrives_whole() -> None:
    payload = b"x" * (4 * 1024 * 1024)
    event = b"data: " + payload + b"\n\n"
    pieces = [event[i:i + 65536] for i in range(0, len(event), 65536)]
    assert split_all(EventSplitter(), pieces) == [event]


def test_an_event_past_the_limit_raises() -> None:
    splitter = EventSplitter(max_event_bytes=1000)
    assert splitter.feed(b"data: ok\n\n" + b"data: " + b"y" * 900) == [b"data: ok\n\n"]
    with pytest.raises(EventTooLarge):
        splitter.feed(b"y" * 200)


def test_whole_events_in_one_chunk_do_not_count_against_the_limit() -> None:
    splitter = EventSplitter(max_event_bytes=1000)
    many = b"".join(b"data: %d\n\n" % i for i in range(500))
    assert len(splitter.feed(many)) == 500


@pytest.mark.parametrize(("text", "shown"), [
    ("http://user:pw@host:8000/v1", "http://***@host:8000/v1"),
    ("https://tok@api.example.com", "https://***@api.example.com"),
    ("http://h/v1?api_key=abc&model=x", "http://h/v1?api_key=***&model=x"),
    ("http://h/v1?x=1&access_token=abc", "http://h/v1?x=1&access_token=***"),
    ("cannot reach http://a:b@h:1/v1?sig=zz now", "cannot reach http://***@h:1/v1?sig=*** now"),
    ("http://h:8000/v1?model=m", "http://h:8000/v1?model=m"),
    ("no url here", "no url here"),
])
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_the_logging_filter_redacts_arguments_too() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1,
                               "endpoint %s is down", ("http://u:secret@h:1",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "endpoint http://***@h:1 is down"


def test_configure_logging_quiets_httpx_and_redacts_every_handler() -> None:
    from router.server import configure_logging

    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore")}
    try:
        configure_logging("info")
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_chat_url_keeps_a_query() -> None:
    assert chat_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h/v1?key=k") == "http://h/v1/chat/completions?key=k"


def test_settings_reach_the_provider_transport_and_breakers(tmp_path: Any) -> None:
    import asyncio

    from router.app import build_providers, create_app
    from router.policy.schema import Policy
    from router.providers.openai_http import OpenAIHttpProvider
    from router.providers.transport import PooledTransport
    from router.settings import Settings

    policy = Policy.model_validate({
        "version": 1,
        "models": {"m": {"backend": "openai", "model": "m", "endpoints": ["http://h:1/v1"],
                         "prices": {"input_per_million": 1, "output_per_million": 1}}},
        "routes": [{"name": "default", "candidates": ["m"]}],
    })
    settings = Settings(timeouts={"keep_alive_expiry_s": 7, "attempt_total_s": 11,
                                  "request_total_s": 13},
                        limits={"max_response_bytes": 4096}, breaker={"max_retry_after_s": 17})
    provider = build_providers(policy, settings)["openai"]
    assert isinstance(provider, OpenAIHttpProvider)
    transport = provider.client._transport
    assert isinstance(transport, PooledTransport) and transport._expiry == 7
    assert provider.limits.max_response_bytes == 4096
    asyncio.run(provider.aclose())
    app = create_app(settings, policy=policy, environ={})
    executor = app.state.chat.executor
    assert (executor.attempt_total_s, executor.request_total_s) == (11, 13)
    assert app.state.breakers.max_retry_after_s == 17
