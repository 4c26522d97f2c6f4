"""What each front door's translation adds over the chat-completions door, at concurrency 1.

    .venv/bin/python bench/doors_bench.py                 # every door, 1000 pairs each way
    .venv/bin/python bench/doors_bench.py --pairs 300     # shorter
    .venv/bin/python bench/doors_bench.py --door responses

One emulated OpenAI-compatible upstream and one Junction (`junction serve`) run in their own
processes. For each door, requests alternate: a chat request, then the same request in the
door's shape, each on its own keep-alive connection, so drift in the machine's load falls on
both alike. Reported: p50 of each, the difference of the p50s and the median of the paired
differences, non-streamed and streamed (whole stream, and first byte). Pairs alternate which
door goes first. On a busy machine the end-to-end difference is noise-bound, so the door's own
work is also timed in process: request parsing and translation, encoding the chat body, and
translating a real upstream answer (or every chunk of a real stream). Target (issue 14):
translation adds <= 0.3 ms p50.

A door adds itself with one function returning its requests (non-streamed, streamed) and one
line in `DOORS`.
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
from gateway_bench import free_port, junction_policy, process, wait_http
from loadgen import Result, _read_response, build_request

PY = sys.executable
PROMPT = "Say hello to the benchmark in one line."
MAX_TOKENS = 16
TARGET_MS = 0.3


def chat_bodies() -> tuple[dict[str, object], dict[str, object]]:
    plain = {"model": "auto", "max_tokens": MAX_TOKENS,
             "messages": [{"role": "user", "content": PROMPT}]}
    return plain, {**plain, "stream": True}


def responses_bodies() -> tuple[dict[str, object], dict[str, object]]:
    """The Responses door: the same prompt as `input`, the same token limit."""
    plain = {"model": "auto", "input": PROMPT, "max_output_tokens": MAX_TOKENS}
    return plain, {**plain, "stream": True}


# Each door: its path and its (non-streamed, streamed) bodies.
DOORS: dict[str, tuple[str, Callable[[], tuple[dict[str, object], dict[str, object]]]]] = {
    "responses": ("/v1/responses", responses_bodies),
}


async def interleaved(port: int, chat: bytes, door: bytes, pairs: int
                      ) -> tuple[Result, Result]:
    """`pairs` chat requests and `pairs` door requests, alternating, one at a time."""
    results = (Result(), Result())
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    began = time.perf_counter()
    order = list(zip(connections, (chat, door), results, strict=True))
    try:
        for _ in range(pairs):
            # Each pair swaps which goes first: whatever the first request leaves behind
            # (its record, settlement, garbage) falls on both doors alike.
            order.reverse()
            for (reader, writer), request, result in order:
                start = time.perf_counter()
                writer.write(request)
                await _read_response(reader, start, result)
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
    finally:
        for _, writer in connections:
            writer.close()
    for result in results:
        result.wall_s = time.perf_counter() - began
    return results


def compare(chat: Result, door: Result) -> dict[str, float]:
    paired = [d - c for c, d in zip(chat.latencies_ms, door.latencies_ms, strict=True)]
    paired_ttfb = [d - c for c, d in zip(chat.first_byte_ms, door.first_byte_ms, strict=True)]
    return {
        "chat_p50_ms": chat.pct(chat.latencies_ms, 50),
        "door_p50_ms": door.pct(door.latencies_ms, 50),
        "added_p50_ms": door.pct(door.latencies_ms, 50) - chat.pct(chat.latencies_ms, 50),
        "paired_median_ms": statistics.median(paired),
        "added_ttfb_p50_ms": (door.pct(door.first_byte_ms, 50)
                              - chat.pct(chat.first_byte_ms, 50)),
        "paired_ttfb_median_ms": statistics.median(paired_ttfb) if paired_ttfb else float("nan"),
        "errors": chat.errors + door.errors,
    }


def measure_door(port: int, path: str, bodies: tuple[dict[str, object], dict[str, object]],
                 pairs: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for index, mode in enumerate(("plain", "stream")):
        chat = build_request("127.0.0.1", port, "/v1/chat/completions",
                             json.dumps(chat_bodies()[index]).encode())
        door = build_request("127.0.0.1", port, path, json.dumps(bodies[index]).encode())
        asyncio.run(interleaved(port, chat, door, 50))  # warm up
        out[mode] = compare(*asyncio.run(interleaved(port, chat, door, pairs)))
    return out


def responses_translation(upstream: str, rounds: int) -> dict[str, float]:
    """The Responses door's own work per request, in process (no server, no network): parse
    and translate the request, encode the chat body, translate the answer or every chunk of
    the stream. Real upstream bytes: one answer and one stream fetched from the emulator."""
    import httpx
    import orjson

    from router.doors.responses import translate_completion, translate_request
    from router.doors.responses_stream import StreamTranslator
    from router.gateway.plan import parse_json

    plain, streamed = (json.dumps(b).encode() for b in responses_bodies())
    chat = {"model": "fake-model", "max_completion_tokens": MAX_TOKENS,
            "messages": [{"role": "user", "content": PROMPT}]}
    answer = httpx.post(upstream + "/v1/chat/completions", json=chat).content
    with httpx.stream("POST", upstream + "/v1/chat/completions", json={
            **chat, "stream": True, "stream_options": {"include_usage": True}}) as r:
        chunks = list(r.iter_raw())

    def one_plain() -> None:
        translated = translate_request(parse_json(plain))
        orjson.dumps(translated.chat)
        translate_completion(answer, translated.request, "jr-0123456789abcdef")

    def one_stream() -> None:
        translated = translate_request(parse_json(streamed))
        orjson.dumps(translated.chat)
        translator = StreamTranslator(translated.request, "jr-0123456789abcdef")
        translator.start()
        for chunk in chunks:
            translator.feed(chunk)
        translator.end()

    out: dict[str, float] = {}
    for name, work in (("plain", one_plain), ("stream", one_stream)):
        for _ in range(200):
            work()
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            work()
            times.append((time.perf_counter() - start) * 1000)
        out[f"{name}_p50_ms"] = statistics.median(times)
    out["stream_chunks"] = len(chunks)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--door", choices=sorted(DOORS), action="append")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    doors = args.door or sorted(DOORS)
    tmp = Path(tempfile.mkdtemp(prefix="junction-doors-bench-"))
    up_port, port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    policy = tmp / "policy.yaml"
    policy.write_text(junction_policy(upstream, "openai"))
    results: dict[str, object] = {}
    with process([PY, "-m", "junction_emulate", "openai", "--port", str(up_port),
                  "--models", "fake-model"], log=tmp / "emulator.log"):
        wait_http(upstream + "/v1/models")
        env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_DATA_DIR": str(tmp / "data")}
        with process([PY, "-c", "import sys; from router.cli import main; sys.exit(main())",
                      "serve", "--config", str(policy), "--port", str(port)],
                     env=env, log=tmp / "junction.log"):
            wait_http(f"http://127.0.0.1:{port}/health/live")
            if "responses" in doors:
                results["responses_in_process"] = responses_translation(upstream, 5000)
            for name in doors:
                path, bodies = DOORS[name]
                print(f"measuring the {name} door against chat ({args.pairs} pairs) ...",
                      flush=True)
                results[name] = measure_door(port, path, bodies(), args.pairs)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, object]) -> None:
    print(f"\n{'door':<12}{'mode':<8}{'chat p50':>10}{'door p50':>10}{'added':>8}"
          f"{'paired':>8}{'ttfb+':>8}{'errors':>8}  target <= {TARGET_MS} ms")
    for name, modes in results.items():
        assert isinstance(modes, dict)
        if name.endswith("_in_process"):
            continue
        for mode, r in modes.items():
            verdict = "ok" if r["paired_median_ms"] <= TARGET_MS else "OVER"
            print(f"{name:<12}{mode:<8}{r['chat_p50_ms']:>10.3f}{r['door_p50_ms']:>10.3f}"
                  f"{r['added_p50_ms']:>8.3f}{r['paired_median_ms']:>8.3f}"
                  f"{r['added_ttfb_p50_ms']:>8.3f}{r['errors']:>8.0f}  {verdict}")
    for name, r in results.items():
        if name.endswith("_in_process"):
            assert isinstance(r, dict)
            door = name.removesuffix("_in_process")
            print(f"{door} translation in process, p50 per request: "
                  f"{r['plain_p50_ms']:.3f} ms plain, {r['stream_p50_ms']:.3f} ms streamed "
                  f"({r['stream_chunks']:.0f} upstream reads)")


if __name__ == "__main__":
    raise SystemExit(main())
