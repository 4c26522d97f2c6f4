"""Protocol-faithful emulated LLM backends: OpenAI, Anthropic and vLLM over real HTTP.

Used by Junction's tests, its benchmarks (as an instant upstream) and `junction demo`.
Each factory returns a plain ASGI app whose `state` holds its live behaviour and the
requests it received; `run_in_thread` serves one on loopback.
"""

from router.emulate.anthropic_app import create_anthropic_app
from router.emulate.app import EmulatorApp
from router.emulate.behaviour import EmulatorBehaviour
from router.emulate.errors import EmulatedError
from router.emulate.openai_app import create_openai_app
from router.emulate.runner import run_in_thread
from router.emulate.state import EmulatorState, RecordedRequest
from router.emulate.vllm_app import create_vllm_app

__all__ = [
    "EmulatedError",
    "EmulatorApp",
    "EmulatorBehaviour",
    "EmulatorState",
    "RecordedRequest",
    "create_anthropic_app",
    "create_openai_app",
    "create_vllm_app",
    "run_in_thread",
]
