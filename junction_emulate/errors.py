"""Emulated failures and the three error bodies they are answered with.

One exception, `EmulatedError`, is raised anywhere in a handler; the app maps it once to the
flavour's body: OpenAI's and vLLM's `{"error": {message, type, param, code}}` (vLLM names the
type after the HTTP status and puts the status in `code`), or Anthropic's
`{"type": "error", "error": {type, message}}`.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

ErrorBody = Callable[["EmulatedError"], dict[str, Any]]

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    429: "Rate limit reached (emulated).",
    500: "The server had an error while processing your request (emulated).",
    502: "Bad gateway (emulated).",
    503: "The server is overloaded or not ready yet (emulated).",
    504: "Gateway timeout (emulated).",
    529: "Overloaded (emulated).",
}


class EmulatedError(Exception):
    """A failure the emulator answers with, in its provider's own error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def injected_error(status: int) -> EmulatedError:
    """The error an injected fault (fail_next, error_rate) answers with."""
    message = _DEFAULT_MESSAGES.get(status, f"Emulated failure with status {status}.")
    return EmulatedError(status, message)


def openai_error_body(error: EmulatedError) -> dict[str, Any]:
    """OpenAI's error body."""
    kind = _OPENAI_TYPES.get(
        error.status, "server_error" if error.status >= 500 else "invalid_request_error"
    )
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param,
            "code": error.code if error.code is not None else _OPENAI_CODES.get(error.status),
        }
    }


def vllm_error_body(error: EmulatedError) -> dict[str, Any]:
    """vLLM's error body: OpenAI's shape, typed after the HTTP status, with the status as code."""
    try:
        phrase = HTTPStatus(error.status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        phrase = "Server" if error.status >= 500 else "Client"
    kind = phrase if phrase.endswith("Error") else f"{phrase}Error"
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param,
            "code": error.status,
        }
    }


def anthropic_error_body(error: EmulatedError) -> dict[str, Any]:
    """Anthropic's error body."""
    kind = _ANTHROPIC_TYPES.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": error.message}}
