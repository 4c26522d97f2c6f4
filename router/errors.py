"""Junction's exception tree, mapped once (in router/api) to OpenAI's error body.

    JunctionError
    ├── ClientError (4xx)
    │   ├── InvalidRequest (400)
    │   ├── AuthenticationFailed (401)
    │   ├── PermissionDenied (403)
    │   ├── NotFound (404)
    │   ├── PayloadTooLarge (413)
    │   └── RateLimited (429, with Retry-After)
    └── ServerError (5xx)
        ├── UpstreamError (502): every candidate failed
        └── ServiceUnavailable (503): nothing may serve it (fail-closed, store down)

`PolicyError` is separate: it is raised at start-up, never while serving.
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

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }
        if self.details:
            error["junction"] = self.details
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


class PolicyError(Exception):
    """A policy file that cannot be loaded; the message names file, line, key path and value."""
