"""Protocol-faithful emulated LLM backends: OpenAI, Anthropic and vLLM over real HTTP.

Used by Junction's tests, its benchmarks (as an instant upstream) and `junction demo`.
Each factory returns a plain ASGI app whose `state` holds its live behaviour and the
requests it received; `run_in_thread` serves one on loopback.
"""

from junction_emulate.anthropic_app import create_anthropic_app
from junction_emulate.app import EmulatorApp
from junction_emulate.behaviour import EmulatorBehaviour
from junction_emulate.errors import EmulatedError
from junction_emulate.openai_app import create_openai_app
from junction_emulate.runner import run_in_thread
from junction_emulate.state import EmulatorState, RecordedRequest
from junction_emulate.vllm_app import create_vllm_app

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
