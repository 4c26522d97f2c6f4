"""The Anthropic emulator: `POST /v1/messages` (and `GET /v1/models`) as api.anthropic.com."""

from __future__ import annotations

from junction_emulate import anthropic_protocol as wire
from junction_emulate.app import EmulatorApp
from junction_emulate.asgi import EventStream, Handler, Request
from junction_emulate.behaviour import DEFAULT_ANTHROPIC_MODELS, EmulatorBehaviour
from junction_emulate.control import control_routes
from junction_emulate.errors import EmulatedError, anthropic_error_body
from junction_emulate.pacing import NULL_OBSERVER, Pacer
from junction_emulate.replies import Ask, Reply, compose
from junction_emulate.serving import Running, key_matches, misbehave, read_json_object
from junction_emulate.state import EmulatorState


def create_anthropic_app(behaviour: EmulatorBehaviour | None = None) -> EmulatorApp:
    """An ASGI app emulating Anthropic's Messages API; `app.state` exposes its live state."""
    state = EmulatorState(behaviour or EmulatorBehaviour(models=DEFAULT_ANTHROPIC_MODELS))
    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/v1/messages"): Messages(state),
        ("GET", "/v1/models"): _model_list(state),
        **control_routes(state),
    }
    return EmulatorApp(routes, anthropic_error_body, state)


def check_headers(request: Request, behaviour: EmulatorBehaviour) -> None:
    """Anthropic's header rules: a matching `x-api-key` (when configured), `anthropic-version`."""
    if behaviour.api_key is not None and not key_matches(
        request.headers.get("x-api-key"), behaviour.api_key
    ):
        raise EmulatedError(401, "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        raise EmulatedError(400, "anthropic-version: header is required")


class Messages:
    """POST /v1/messages: a `message`, or its event stream."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    async def __call__(self, request: Request) -> None:
        """Handle one request."""
        state = self._state
        body = read_json_object(request, state)
        behaviour = state.behaviour
        check_headers(request, behaviour)
        parsed = wire.parse_messages_request(body, behaviour)
        await misbehave(request, state, behaviour)
        async with Running(request, state, NULL_OBSERVER):
            reply = compose(parsed.ask, behaviour, state.new_id("toolu_"))
            pacer = Pacer(request, behaviour.ttft, behaviour.tps)
            message_id = state.new_id("msg_")
            if parsed.stream:
                await _stream(
                    request, parsed.ask, reply, pacer, message_id, behaviour.cut_after_chunks
                )
                return
            if not pacer.instant:
                await pacer.step(max(reply.completion_tokens - 1, 0))
            await request.respond_json(200, wire.message_body(message_id, parsed.ask, reply))


async def _stream(
    request: Request, ask: Ask, reply: Reply, pacer: Pacer, message_id: str, cut_after: int | None
) -> None:
    stream = EventStream(request, cut_after)
    await stream.open()
    steps = reply.steps
    if not steps and not pacer.instant:
        await pacer.step(0, stream.flush)
    stream.add(wire.message_start(message_id, ask))
    block = -1
    for index, (kind, text) in enumerate(steps):
        if not pacer.instant:
            await pacer.step(index, stream.flush)
        tool = kind == "tool"
        if index == 0 or tool != (steps[index - 1][0] == "tool"):
            if block >= 0:
                stream.add(wire.block_stop(block))
            block += 1
            stream.add(wire.block_start(block, reply, tool))
            if block == 0:
                stream.add(wire.PING)
        stream.add(wire.block_delta(block, tool, text))
    if block < 0:
        stream.add(wire.block_start(0, reply, False))
        block = 0
    stream.add(wire.block_stop(block))
    stream.add(wire.message_delta(reply))
    stream.add(wire.MESSAGE_STOP)
    await stream.close()


def _model_list(state: EmulatorState) -> Handler:
    async def list_models(request: Request) -> None:
        check_headers(request, state.behaviour)
        await request.respond_json(200, wire.models_body(state.behaviour))

    return list_models
