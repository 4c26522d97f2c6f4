"""Bad input gets a clear OpenAI-shaped error with the right status; the gateway keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import Gateway

URL = "/v1/chat/completions"


def assert_openai_error(r: httpx.Response, status: int, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["message"]
    # Every error names the request, in the body and the header, for support and the logs.
    assert error["request_id"].startswith("jr-")
    assert r.headers["x-junction-request-id"] == error["request_id"]
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize(
    ("content", "param", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"model": "auto"}', "messages", "required"),
        (b'{"model": "auto", "messages": []}', "messages", "at least 1"),
        (b'{"model": "auto", "messages": "hi"}', "messages", "list"),
        (b'{"model": "auto", "messages": [{"role": "robot", "content": "x"}]}',
         "messages[0].role", "robot"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model", "string"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "required"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
         "stream", "boolean"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}',
         "max_tokens", "greater than or equal to 1"),
        (b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], '
         b'"temperature": 9}', "temperature", "less than or equal to 2"),
    ],
)
def test_malformed_requests_get_400(
    gateway: Gateway, content: bytes, param: str | None, fragment: str
) -> None:
    r = httpx.post(gateway.url + URL, content=content,
                   headers={"content-type": "application/json"})
    error = assert_openai_error(r, 400, param)
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"], error["message"]


def test_unknown_model_gets_404_listing_choices(gateway: Gateway) -> None:
    r = httpx.post(gateway.url + URL, json={"model": "gpt-9",
                                            "messages": [{"role": "user", "content": "x"}]})
    error = assert_openai_error(r, 404, "model")
    assert error["code"] == "model_not_found"
    assert "'gpt-9'" in error["message"] and "auto" in error["message"]


def test_body_over_limit_gets_413(gateway: Gateway) -> None:
    limit = gateway.app.state.settings.max_body_bytes
    big = b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"a" * limit + b'"}]}'
    r = httpx.post(gateway.url + URL, content=big, headers={"content-type": "application/json"})
    error = assert_openai_error(r, 413)
    assert str(limit) in error["message"]


def test_unknown_path_and_method(gateway: Gateway) -> None:
    assert_openai_error(httpx.get(gateway.url + "/v1/nothing"), 404)
    assert_openai_error(httpx.get(gateway.url + URL), 405)


def test_gateway_keeps_serving_after_bad_input(gateway: Gateway) -> None:
    for _ in range(3):
        httpx.post(gateway.url + URL, content=b"{{{")
    ok = httpx.post(gateway.url + URL, json={"model": "auto",
                                             "messages": [{"role": "user", "content": "x"}]})
    assert ok.status_code == 200
