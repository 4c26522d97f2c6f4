"""One mapping from any exception to status, OpenAI body and headers, with the request id."""

from __future__ import annotations

import logging

import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from router.api.responses import error_response
from router.errors import NotFound, PermissionDenied


def mapped(exc: Exception) -> tuple[int, dict[str, object], dict[str, str]]:
    response = error_response(exc, "POST", "/v1/nope")
    body = orjson.loads(bytes(response.body))
    return response.status_code, body["error"], dict(response.headers)


def test_a_domain_error_keeps_its_status_and_request_id() -> None:
    exc = PermissionDenied("no", code="model_not_allowed",
                           headers={"x-junction-request-id": "jr-given"})
    status, error, headers = mapped(exc)
    assert status == 403 and error["code"] == "model_not_allowed"
    assert error["request_id"] == "jr-given" == headers["x-request-id"]


@pytest.mark.parametrize(("exc", "status", "type_", "code"), [
    (HTTPException(404), 404, "not_found_error", "not_found"),
    (NotFound("no such model", code="model_not_found"), 404, "not_found_error",
     "model_not_found"),
    (HTTPException(405, "Method Not Allowed"), 405, "invalid_request_error",
     "method_not_allowed"),
    (RequestValidationError([{"loc": ("body", "limits", "daily_usd"), "msg": "too small"}]),
     422, "invalid_request_error", "validation_error"),
])
def test_framework_errors_take_the_same_shape(
    exc: Exception, status: int, type_: str, code: str
) -> None:
    got_status, error, headers = mapped(exc)
    assert (got_status, error["type"], error["code"]) == (status, type_, code)
    assert set(error) == {"message", "type", "param", "code", "request_id"}
    assert str(error["request_id"]).startswith("jr-")
    assert headers["x-junction-request-id"] == error["request_id"]


def test_an_unexpected_error_is_a_500_with_a_request_id_the_log_shares(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="junction"):
        status, error, _ = mapped(KeyError("secret-looking detail"))
    assert status == 500 and error["code"] == "internal_error"
    assert error["message"] == "internal error: KeyError; the gateway logged the details"
    assert "secret-looking" not in str(error)
    assert str(error["request_id"]) in caplog.text
