"""JSON responses encoded with orjson, and the one mapping of errors to OpenAI's body."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from router.errors import JunctionError


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content), status_code=status_code, headers=headers,
        media_type="application/json",
    )


def error_response(error: JunctionError) -> Response:
    return json_response(error.body(), error.status_code, error.headers or None)


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
