"""The `/_emulator/*` endpoints through which tests and benchmarks steer an emulator."""

from __future__ import annotations

from junction_emulate.asgi import Handler, Request
from junction_emulate.errors import EmulatedError
from junction_emulate.serving import read_json_object_unrecorded
from junction_emulate.state import EmulatorState


def control_routes(state: EmulatorState) -> dict[tuple[str, str], Handler]:
    """GET/POST /_emulator/config, GET /_emulator/requests, POST /_emulator/reset."""

    async def get_config(request: Request) -> None:
        await request.respond_json(200, state.behaviour.as_json())

    async def set_config(request: Request) -> None:
        changes = read_json_object_unrecorded(request)
        try:
            behaviour = state.configure(changes)
        except ValueError as exc:
            raise EmulatedError(400, str(exc)) from None
        await request.respond_json(200, behaviour.as_json())

    async def get_requests(request: Request) -> None:
        recorder = state.recorder
        recent = [entry.as_json() for entry in recorder.recent]
        await request.respond_json(200, {"count": recorder.count, "requests": recent})

    async def reset(request: Request) -> None:
        state.recorder.clear()
        await request.respond_json(200, {"count": 0, "requests": []})

    return {
        ("GET", "/_emulator/config"): get_config,
        ("POST", "/_emulator/config"): set_config,
        ("GET", "/_emulator/requests"): get_requests,
        ("POST", "/_emulator/reset"): reset,
    }
