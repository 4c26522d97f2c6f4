"""What the Anthropic Messages door's translation adds over the chat path, at concurrency 1,
streamed and not (the Responses door's figures: bench/doors_bench.py).

    .venv/bin/python bench/messages_door_bench.py            # the Messages door
    .venv/bin/python bench/messages_door_bench.py --n 500    # requests per path

One emulated vLLM upstream and one Junction gateway, each in its own process. Requests to a
door and the equivalent chat-completions requests are interleaved one by one on two keep-alive
connections, so drift and noise hit both alike; the figure is the difference of the p50s (and
the p50 of the paired differences). Target (issue 14): <= 0.3 ms p50, streamed and not.

`--cpu` also times the translation alone, in this process (no HTTP): what a door's pure
functions cost per request, which load on a shared machine cannot blur as much.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import PY, free_port, process, wait_http
from loadgen import Result, build_request, read_response

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Say hello to the benchmark in one line."

POLICY = """
version: 1
models:
  local:
    backend: local
    model: fake-model
    endpoints: ["{upstream}"]
    capabilities: [tools, json_schema]
    context_window: 128000
routes:
  - name: default
    candidates: [local]
"""


def chat_body(stream: bool) -> dict[str, object]:
    return {"model": "auto", "max_tokens": 16, "stream": stream,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": PROMPT}]}


def messages_door(stream: bool) -> tuple[str, dict[str, object]]:
    """The Anthropic Messages door: the same request as `chat_body`, in Messages' shape."""
    return "/v1/messages", {"model": "auto", "max_tokens": 16, "stream": stream,
                            "system": "Be brief.",
                            "messages": [{"role": "user", "content": PROMPT}]}


DOORS: dict[str, Callable[[bool], tuple[str, dict[str, object]]]] = {
    "messages": messages_door,
}


async def interleaved(port: int, door: bytes, chat: bytes, n: int) -> tuple[Result, Result]:
    """`n` door and `n` chat requests, alternating, each on its own keep-alive connection."""
    results = (Result(), Result())
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    try:
        for i in range(2 * n):
            which = (i + i // 2) % 2  # door, chat, chat, door, ...: neither always goes first
            reader, writer = conns[which]
            request = (door, chat)[which]
            start = time.perf_counter()
            writer.write(request)
            await read_response(reader, start, results[which])
            results[which].latencies_ms.append((time.perf_counter() - start) * 1000)
    finally:
        for _, writer in conns:
            writer.close()
    return results


def measure(port: int, name: str, n: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for stream in (False, True):
        path, body = DOORS[name](stream)
        door = build_request("127.0.0.1", port, path, json.dumps(body).encode())
        chat = build_request("127.0.0.1", port, "/v1/chat/completions",
                             json.dumps(chat_body(stream)).encode())
        asyncio.run(interleaved(port, door, chat, 100))  # warm up
        d, c = asyncio.run(interleaved(port, door, chat, n))
        assert not d.errors and not c.errors, (d.statuses, c.statuses)
        paired = [a - b for a, b in zip(d.latencies_ms, c.latencies_ms, strict=True)]
        out["stream" if stream else "plain"] = {
            "door_p50_ms": round(d.pct(d.latencies_ms, 50), 3),
            "chat_p50_ms": round(c.pct(c.latencies_ms, 50), 3),
            "added_p50_ms": round(d.pct(d.latencies_ms, 50) - c.pct(c.latencies_ms, 50), 3),
            "paired_median_ms": round(statistics.median(paired), 3),
            "requests": n,
        }
    return out


def messages_cpu(n: int) -> dict[str, float]:
    """Microseconds per request of the Messages door's translations: the request, a whole
    answer, and a 16-token stream (with the usage chunk and [DONE])."""
    import orjson

    from router.doors.anthropic import chat_to_message, messages_to_chat
    from router.doors.anthropic_stream import ChatToMessagesStream

    _, request = messages_door(True)
    completion = orjson.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "word " * 16}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 16, "total_tokens": 36}})

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        return b"data: " + orjson.dumps({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": "fake-model", "choices": [{"index": 0, "delta": delta,
                                                "logprobs": None, "finish_reason": finish}]}
        ) + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""}),
              *(chunk({"content": "word "}) for _ in range(16)), chunk({}, "stop"),
              b'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":20,'
              b'"completion_tokens":16}}\n\n', b"data: [DONE]\n\n"]

    def per_call(work: Callable[[], object]) -> float:
        began = time.perf_counter()
        for _ in range(n):
            work()
        return round((time.perf_counter() - began) / n * 1e6, 1)

    def stream() -> None:
        translator = ChatToMessagesStream(0, None, 1 << 20)
        for event in events:
            translator.feed(event)

    return {
        "request_us": per_call(lambda: orjson.dumps(messages_to_chat(request))),
        "answer_us": per_call(lambda: orjson.dumps(chat_to_message(orjson.loads(completion)))),
        "stream_us": per_call(stream),
    }


CPU: dict[str, Callable[[int], dict[str, float]]] = {"messages": messages_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="requests per door and per path")
    parser.add_argument("--door", choices=sorted(DOORS), action="append",
                        help="measure only these doors (default: all)")
    parser.add_argument("--cpu", action="store_true",
                        help="also time each door's translation alone, without HTTP")
    args = parser.parse_args()
    up_port, port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp, process(
        [PY, "-m", "junction_emulate", "vllm", "--port", str(up_port), "--models", "fake-model",
         "--completion-tokens", "16", "--reasoning-tokens", "0", "--log-level", "warning"],
    ):
        wait_http(f"http://127.0.0.1:{up_port}/v1/models")
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY.format(upstream=f"http://127.0.0.1:{up_port}"))
        env = {"JUNCTION_DATA_DIR": str(Path(tmp) / "data"), "JUNCTION_LOG_LEVEL": "warning",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        with process([PY, "-m", "router.cli", "serve", "--config", str(policy), "--port",
                      str(port)], env=env):
            wait_http(f"http://127.0.0.1:{port}/health/ready")
            results = {name: measure(port, name, args.n) for name in (args.door or DOORS)}
    if args.cpu:
        for name in args.door or DOORS:
            if name in CPU:
                results[name]["translation_cpu"] = CPU[name](5000)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
