"""The OpenAI emulator: chat completions, embeddings and `GET /v1/models`, as api.openai.com."""

from __future__ import annotations

from junction_emulate.app import EmulatorApp
from junction_emulate.asgi import Handler
from junction_emulate.behaviour import DEFAULT_OPENAI_MODELS, EmulatorBehaviour
from junction_emulate.control import control_routes
from junction_emulate.embeddings import Embeddings
from junction_emulate.errors import openai_error_body
from junction_emulate.openai_chat import ChatCompletions, ModelList
from junction_emulate.openai_protocol import OPENAI
from junction_emulate.state import EmulatorState


def create_openai_app(behaviour: EmulatorBehaviour | None = None) -> EmulatorApp:
    """An ASGI app emulating OpenAI's chat and embeddings APIs; `app.state` is its live state."""
    state = EmulatorState(behaviour or EmulatorBehaviour(models=DEFAULT_OPENAI_MODELS))
    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/v1/chat/completions"): ChatCompletions(state, OPENAI),
        ("GET", "/v1/models"): ModelList(state, OPENAI),
        ("POST", "/v1/embeddings"): Embeddings(state, OPENAI),
        **control_routes(state),
    }
    return EmulatorApp(routes, openai_error_body, state)
