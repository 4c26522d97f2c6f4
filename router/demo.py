"""`junction demo`: the gateway on the default policy, with emulated local and API backends.

A newcomer with no GPU and no API keys gets a working endpoint: an emulated vLLM stands in for
the local Qwen3.5 model (another for the local embedding model), emulated OpenAI and Anthropic
APIs for the proprietary ones. Every emulated reply says that it is emulated.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import uvicorn

from junction_emulate import (
    EmulatorBehaviour,
    create_anthropic_app,
    create_openai_app,
    create_vllm_app,
    run_in_thread,
)
from router.app import create_app
from router.errors import PolicyError
from router.server import configure_logging
from router.settings import Settings

LOCAL_MODEL = "qwen3.5-35b-a3b"
EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
BANNER = """
Junction demo: gateway on http://{host}:{port}/v1 (policy {policy})
  local model (emulated vLLM):  {local}
  local embeddings (emulated):  {embedding}
  OpenAI API (emulated):        {openai}
  Anthropic API (emulated):     {anthropic}

Try it:
  curl -s http://{host}:{port}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Hello!"}}]}}' -i
  curl -s http://{host}:{port}/v1/embeddings -H 'content-type: application/json' \\
    -d '{{"model": "auto", "input": ["first text", "second text"]}}'
  curl -s http://{host}:{port}/v1/route/explain -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Prove it, step by step"}}]}}'

  from openai import OpenAI
  client = OpenAI(base_url="http://{host}:{port}/v1", api_key="demo")
  client.chat.completions.create(model="auto", messages=[{{"role": "user", "content": "Hi"}}])

Headers x-junction-route, x-junction-model and x-junction-attempts say where each answer came
from. Press Ctrl+C to stop.
"""


def say(message: str) -> None:
    """A progress line, so the first seconds are not silent."""
    print(f"junction demo: {message}", flush=True)


def run_demo(host: str, port: int, policy_file: Path | None) -> int:
    settings = Settings(host=host, port=port)
    if policy_file is not None:
        settings = settings.model_copy(update={"policy_file": policy_file})
    configure_logging(settings.log_level)
    started = time.perf_counter()
    say("starting emulated backends on loopback: vLLM (local chat and embedding models), "
        "OpenAI, Anthropic")
    with ExitStack() as stack:
        # The demo keeps nothing: a database of its own for this run, so the policy given
        # (or the shipped one) is what serves, never a version stored by an earlier demo.
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="junction-demo-")))
        settings = settings.model_copy(update={"data_dir": data_dir})
        local = stack.enter_context(run_in_thread(create_vllm_app(EmulatorBehaviour(
            models=(LOCAL_MODEL,), ttft=0.05, tps=120, completion_tokens=48,
            max_concurrency=8,
        ))))
        # vLLM serves one model per server: the embedding model gets its own.
        embedding = stack.enter_context(run_in_thread(create_vllm_app(EmulatorBehaviour(
            models=(EMBEDDING_MODEL,), embedding_dimensions=1024, max_concurrency=8,
        ))))
        openai_url = stack.enter_context(run_in_thread(create_openai_app(EmulatorBehaviour(
            models=("gpt-4o", "gpt-4o-mini"), api_key="demo-openai-key", ttft=0.3, tps=80,
            completion_tokens=48,
        ))))
        anthropic = stack.enter_context(run_in_thread(create_anthropic_app(EmulatorBehaviour(
            models=("claude-sonnet-4-5",), api_key="demo-anthropic-key", ttft=0.4, tps=70,
            completion_tokens=48,
        ))))
        environ = {
            **os.environ,
            "JUNCTION_LOCAL_URL": local,
            "JUNCTION_LOCAL_MODEL": LOCAL_MODEL,
            "JUNCTION_EMBEDDING_URL": embedding,
            "JUNCTION_EMBEDDING_MODEL": EMBEDDING_MODEL,
            "OPENAI_BASE_URL": openai_url + "/v1",
            "OPENAI_API_KEY": "demo-openai-key",
            "ANTHROPIC_BASE_URL": anthropic,
            "ANTHROPIC_API_KEY": "demo-anthropic-key",
        }
        say(f"loading policy {settings.policy_file} (litellm, for the Anthropic model, "
            "loads in the background)")
        try:
            app = create_app(settings, environ=environ)
        except PolicyError as exc:
            logging.getLogger("junction").error("cannot start: %s", exc)
            return 2
        say(f"starting the gateway ({time.perf_counter() - started:.1f} s so far)")
        print(BANNER.format(host=host, port=port, policy=settings.policy_file, local=local,
                            embedding=embedding, openai=openai_url, anthropic=anthropic),
              flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    return 0
