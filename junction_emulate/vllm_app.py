"""The vLLM emulator: vLLM's OpenAI-compatible server with its operational endpoints.

Beyond chat completions (with Qwen3-style reasoning) it serves `/health`, `/load`,
`/version`, vLLM's `/v1/models` and a `/metrics` that a Prometheus scraper (or Junction's
capacity probe) reads exactly as it would read vLLM 0.32's.
"""

from __future__ import annotations

from junction_emulate.app import EmulatorApp
from junction_emulate.asgi import Handler, Request
from junction_emulate.behaviour import DEFAULT_VLLM_MODELS, EmulatorBehaviour
from junction_emulate.control import control_routes
from junction_emulate.embeddings import Embeddings
from junction_emulate.errors import vllm_error_body
from junction_emulate.openai_chat import ChatCompletions, ModelList
from junction_emulate.openai_protocol import VLLM
from junction_emulate.state import EmulatorState
from junction_emulate.vllm_metrics import CONTENT_TYPE, VllmMetrics

VLLM_VERSION = "0.32.0"


def create_vllm_app(behaviour: EmulatorBehaviour | None = None) -> EmulatorApp:
    """An ASGI app emulating a vLLM server; `app.state` exposes its live state.

    The metrics' `model_name` label is the first served model, as vLLM labels its first
    served name.
    """
    state = EmulatorState(behaviour or EmulatorBehaviour(models=DEFAULT_VLLM_MODELS))
    models = state.behaviour.models
    metrics = VllmMetrics(
        models[0] if models else "emulated", lambda: state.behaviour.kv_cache_tokens
    )

    async def health(request: Request) -> None:
        await request.respond(200, b"", content_type=None)

    async def load(request: Request) -> None:
        await request.respond_json(200, {"server_load": state.in_flight})

    async def version(request: Request) -> None:
        await request.respond_json(200, {"version": VLLM_VERSION})

    async def prometheus(request: Request) -> None:
        extra = state.behaviour
        body = metrics.render(running=state.gate.running + extra.extra_running,
                              waiting=state.gate.waiting + extra.extra_waiting)
        await request.respond(200, body, content_type=CONTENT_TYPE)

    routes: dict[tuple[str, str], Handler] = {
        ("POST", "/v1/chat/completions"): ChatCompletions(state, VLLM, metrics.observe),
        ("GET", "/v1/models"): ModelList(state, VLLM),
        ("POST", "/v1/embeddings"): Embeddings(state, VLLM),
        ("GET", "/health"): health,
        ("GET", "/load"): load,
        ("GET", "/version"): version,
        ("GET", "/metrics"): prometheus,
        **control_routes(state),
    }
    return EmulatorApp(routes, vllm_error_body, state)
