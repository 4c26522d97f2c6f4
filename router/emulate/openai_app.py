"""The OpenAI emulator: `POST /v1/chat/completions` and `GET /v1/models`, as api.openai.com."""

from __future__ import annotations

from router.emulate.app import EmulatorApp
from router.emulate.asgi import Handler
from router.emulate.behaviour import DEFAULT_OPENAI_MODELS, EmulatorBehaviour
from router.emulate.control import control_routes
from router.emulate.errors import openai_error_body
from router.emulate.openai_chat import ChatCompletions, ModelList
from router.emulate.openai_protocol import OPENAI
from router.emulate.state import EmulatorState


def create_openai_app(behaviour: EmulatorBehaviour | None = None) -> EmulatorApp:
    """An ASGI app emulating OpenAI's chat API; `app.state` exposes its live state."""
    state = EmulatorState(behaviour or EmulatorBehaviour(models=DEFAULT_OPENAI_MODELS))
    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/v1/chat/completions"): ChatCompletions(state, OPENAI),
        ("GET", "/v1/models"): ModelList(state, OPENAI),
        **control_routes(state),
    }
    return EmulatorApp(routes, openai_error_body, state)
