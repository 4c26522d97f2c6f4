"""JSON responses encoded with orjson, and the one mapping of exceptions to OpenAI's body."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from router.errors import (
    InternalError,
    InvalidRequest,
    JunctionError,
    MethodNotAllowed,
    NotFound,
)
from router.gateway.plan import new_request_id
from router.protocol import dotted

log = logging.getLogger("junction")


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content), status_code=status_code, headers=headers,
        media_type="application/json",
    )


def as_junction_error(exc: Exception, method: str, path: str) -> JunctionError:
    """Any exception as a `JunctionError`: framework errors get their status and a message
    that names the field or endpoint; anything unexpected is a 500 naming only its type."""
    if isinstance(exc, JunctionError):
        return exc
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = tuple(p for p in first.get("loc", ()) if p != "body")
        param = dotted(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
        error: JunctionError = InvalidRequest(message, param=param, code="validation_error")
        # FastAPI's own status for a request its schema refuses; documented for the admin API.
        error.status_code = 422
        return error
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 404:
            return NotFound(f"no such endpoint: {method} {path}", headers=headers)
        if exc.status_code == 405:
            return MethodNotAllowed(f"{method} is not allowed on {path}: {exc.detail}",
                                    headers=headers)
        error = InvalidRequest(str(exc.detail), code="http_error", headers=headers)
        error.status_code = exc.status_code
        return error
    return InternalError(
        f"internal error: {type(exc).__name__}; the gateway logged the details"
    )


def error_response(exc: Exception, method: str, path: str) -> Response:
    """The one mapping: status, OpenAI body (with `error.request_id`) and headers."""
    error = as_junction_error(exc, method, path)
    request_id = error.headers.get("x-junction-request-id") or new_request_id()
    if isinstance(error, InternalError) and error is not exc:
        log.error("unexpected error on %s %s (request %s)", method, path, request_id,
                  exc_info=exc)
    headers = {**error.headers, "x-junction-request-id": request_id, "x-request-id": request_id}
    return json_response(error.body(request_id), error.status_code, headers)
