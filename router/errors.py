"""Junction's exception tree, mapped once (in router/api) to OpenAI's error body.

    JunctionError
    ├── ClientError (4xx)
    │   ├── InvalidRequest (400)
    │   ├── AuthenticationFailed (401)
    │   ├── PermissionDenied (403)
    │   ├── NotFound (404)
    │   ├── MethodNotAllowed (405)
    │   ├── PayloadTooLarge (413)
    │   └── RateLimited (429, with Retry-After)
    └── ServerError (5xx)
        ├── UpstreamError (502): every candidate failed
        ├── ServiceUnavailable (503): nothing may serve it (fail-closed, store down)
        └── InternalError (500): a bug, logged with the request id

`PolicyError` is separate: it is raised at start-up, never while serving.

`router.api.responses.error_response` is the one place any exception becomes a response: it
turns framework exceptions into these, and gives every body the request id.
"""

from __future__ import annotations

from typing import Any


class JunctionError(Exception):
    status_code = 500
    error_type = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}
        self.details = details

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        out = openai_error(self.message, self.error_type, self.code, self.param, request_id)
        if self.details:
            out["error"]["junction"] = self.details
        return out


def openai_error(
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error body: its four keys, plus Junction's request id when there is one."""
    error: dict[str, Any] = {"message": message, "type": type_, "param": param, "code": code}
    if request_id is not None:
        error["request_id"] = request_id
    return {"error": error}


class ClientError(JunctionError):
    status_code = 400
    error_type = "invalid_request_error"


class InvalidRequest(ClientError):
    default_code = "invalid_request"


class AuthenticationFailed(ClientError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(ClientError):
    status_code = 403
    error_type = "permission_error"
    default_code = "permission_denied"


class NotFound(ClientError):
    status_code = 404
    error_type = "not_found_error"
    default_code = "not_found"


class MethodNotAllowed(ClientError):
    status_code = 405
    default_code = "method_not_allowed"


class PayloadTooLarge(ClientError):
    status_code = 413
    default_code = "request_too_large"


class RateLimited(ClientError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class ServerError(JunctionError):
    status_code = 500
    error_type = "server_error"


class UpstreamError(ServerError):
    status_code = 502
    error_type = "upstream_error"
    default_code = "all_candidates_failed"


class ServiceUnavailable(ServerError):
    status_code = 503
    error_type = "service_unavailable"
    default_code = "service_unavailable"


class InternalError(ServerError):
    """A bug: the message names only the exception's type; the log has the traceback."""

    default_code = "internal_error"


class PolicyError(Exception):
    """A policy file that cannot be loaded; the message names file, line, key path and value."""
