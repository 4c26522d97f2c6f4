"""`python -m junction_emulate {openai,anthropic,vllm} --port P [...]`: serve one emulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import uvicorn

from junction_emulate.anthropic_app import create_anthropic_app
from junction_emulate.app import EmulatorApp
from junction_emulate.asgi import hide_connection_cut_tracebacks
from junction_emulate.behaviour import (
    DEFAULT_ANTHROPIC_MODELS,
    DEFAULT_OPENAI_MODELS,
    DEFAULT_VLLM_MODELS,
    EmulatorBehaviour,
)
from junction_emulate.openai_app import create_openai_app
from junction_emulate.vllm_app import create_vllm_app

_FLAVOURS: dict[str, tuple[Callable[[EmulatorBehaviour], EmulatorApp], tuple[str, ...]]] = {
    "openai": (create_openai_app, DEFAULT_OPENAI_MODELS),
    "anthropic": (create_anthropic_app, DEFAULT_ANTHROPIC_MODELS),
    "vllm": (create_vllm_app, DEFAULT_VLLM_MODELS),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line; every behaviour knob can also be changed later via /_emulator/config."""
    parser = argparse.ArgumentParser(prog="python -m junction_emulate", description=__doc__)
    parser.add_argument("flavour", choices=sorted(_FLAVOURS), help="which provider to emulate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--models", help="comma-separated model names served (default: per flavour)"
    )
    parser.add_argument("--api-key", help="require this key (Bearer or x-api-key)")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    parser.add_argument("--tps", type=float, default=0.0, help="tokens per second (0 = instant)")
    parser.add_argument("--completion-tokens", type=int, default=16, help="reply length in tokens")
    parser.add_argument("--reasoning-tokens", type=int, default=8, help="vLLM thinking length")
    parser.add_argument(
        "--max-concurrency", type=int, default=0, help="0 = unlimited; beyond it, a FIFO queue"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests that fail (0..1)"
    )
    parser.add_argument("--error-status", type=int, default=500, help="status of injected failures")
    parser.add_argument("--seed", type=int, default=0, help="seed of the failure draws")
    parser.add_argument(
        "--kv-cache-tokens", type=int, default=65_536, help="vLLM KV-cache capacity"
    )
    parser.add_argument("--max-model-len", type=int, default=32_768, help="vLLM context length")
    parser.add_argument("--log-level", default="info")
    return parser


def behaviour_from_args(args: argparse.Namespace) -> EmulatorBehaviour:
    """The behaviour the parsed arguments describe (ValueError if out of range)."""
    _, default_models = _FLAVOURS[args.flavour]
    models = (
        tuple(m.strip() for m in args.models.split(",") if m.strip())
        if args.models
        else default_models
    )
    return EmulatorBehaviour(
        models=models,
        api_key=args.api_key,
        ttft=args.ttft,
        tps=args.tps,
        completion_tokens=args.completion_tokens,
        reasoning_tokens=args.reasoning_tokens,
        max_concurrency=args.max_concurrency,
        error_rate=args.error_rate,
        error_status=args.error_status,
        seed=args.seed,
        kv_cache_tokens=args.kv_cache_tokens,
        max_model_len=args.max_model_len,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the chosen emulator in the foreground until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        behaviour = behaviour_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    factory, _ = _FLAVOURS[args.flavour]
    hide_connection_cut_tracebacks()
    # Hung requests would otherwise hold up Ctrl+C until a second one forces the exit.
    uvicorn.run(
        factory(behaviour),
        timeout_graceful_shutdown=2,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
