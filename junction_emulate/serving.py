"""The stages every generation request goes through, whichever protocol it speaks.

read and record the body -> (protocol: authenticate, validate) -> misbehave (hang, stall,
injected failure) -> wait for admission -> generate -> release.
"""

from __future__ import annotations

import hmac
from types import TracebackType
from typing import Any

import orjson

from junction_emulate.asgi import Request
from junction_emulate.behaviour import EmulatorBehaviour
from junction_emulate.errors import EmulatedError, injected_error
from junction_emulate.pacing import RequestObserver
from junction_emulate.state import EmulatorState, RecordedRequest


def read_json_object(request: Request, state: EmulatorState) -> dict[str, Any]:
    """Parse the body as a JSON object, recording the request whether or not it parses."""
    try:
        body: Any = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        text = request.body.decode("utf-8", "replace")
        state.recorder.record(RecordedRequest(request.method, request.path, request.headers, text))
        raise EmulatedError(400, "The request body is not valid JSON.") from None
    state.recorder.record(RecordedRequest(request.method, request.path, request.headers, body))
    return _require_object(body)


def read_json_object_unrecorded(request: Request) -> dict[str, Any]:
    """Parse the body as a JSON object without recording it (control endpoints)."""
    try:
        body: Any = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        raise EmulatedError(400, "The request body is not valid JSON.") from None
    return _require_object(body)


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise EmulatedError(
            400, f"The request body must be a JSON object, not {type(body).__name__}."
        )
    return body


def key_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the emulator does not teach timing attacks by example."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_bearer(request: Request, behaviour: EmulatorBehaviour) -> None:
    """401 unless `Authorization: Bearer <key>` matches the configured key (if any)."""
    if behaviour.api_key is None:
        return
    if not key_matches(request.headers.get("authorization"), f"Bearer {behaviour.api_key}"):
        raise EmulatedError(401, "Incorrect API key provided (emulated).", code="invalid_api_key")


async def misbehave(request: Request, state: EmulatorState, behaviour: EmulatorBehaviour) -> None:
    """Apply the configured hang, stall and injected failures before any work is done."""
    if behaviour.hang:
        await request.wait_until_abandoned()
    if behaviour.hang_seconds > 0:
        await request.sleep(behaviour.hang_seconds)
    if state.should_fail():
        raise injected_error(behaviour.error_status)


class Running:
    """`async with Running(...)`: queue for a slot, run, then release it and tell the observer.

    The request counts as in flight from the moment it enters, queued or not.
    """

    __slots__ = ("_observer", "_request", "_state")

    def __init__(self, request: Request, state: EmulatorState, observer: RequestObserver) -> None:
        self._request = request
        self._state = state
        self._observer = observer

    async def __aenter__(self) -> None:
        self._state.in_flight += 1
        try:
            await self._state.gate.acquire(self._request)
        except BaseException:
            self._state.in_flight -= 1
            self._observer.finished(None)
            raise
        self._observer.admitted()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._state.in_flight -= 1
        self._state.gate.release()
        # A no-op if the handler already reported how the request finished.
        self._observer.finished(None)
