"""The time Junction adds to `POST /v1/embeddings` over calling the emulated upstream directly.

    .venv/bin/python bench/embeddings_bench.py            # 2,000 requests per case and path
    .venv/bin/python bench/embeddings_bench.py --quick    # 400

An emulated vLLM (1024-dimension vectors) runs in its own process and Junction in another
(`junction serve`). At concurrency 1 the same request goes to the upstream directly and through
Junction, in alternating blocks of 50 so that drift in the machine's load hits both alike; the
figure is p50 (through Junction) - p50 (direct); "own" is the p50 of the
`x-junction-overhead-ms` header (Junction's time, upstream excluded). Cases: one text in float
(the smallest request), 16 texts in base64 (what the `openai` SDK sends by default), the same
batch to a model of external residency (the egress guard re-scans the body before it leaves),
and a chat completion measured the same way, as the reference for what the chat door adds.
Junction checks every answer (one vector per input, one length, finite numbers), which is part
of the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import PY, ROOT, free_port, process, wait_http
from loadgen import Result, build_request, run_load

MODEL = "bench-embed"
BLOCK = 50
TEXT = ("Junction routes each request by policy: sensitive work stays on local GPUs, the rest "
        "goes wherever it is cheapest and good enough.")


def policy(upstream: str) -> str:
    return f"""
version: 1
models:
  chat:
    backend: local
    model: unused
    endpoints: ["{upstream}"]
  embed-local:
    backend: local
    kind: embedding
    model: {MODEL}
    endpoints: ["{upstream}"]
  embed-external:
    backend: openai
    kind: embedding
    model: {MODEL}
    residency: external
    endpoints: ["{upstream}"]
    prices: {{input_per_million: 0.02}}
routes:
  - name: default
    candidates: [chat]
  - name: embed
    candidates: [embed-local]
defaults:
  embedding_route: embed
"""


def body(model: str, inputs: int, encoding: str) -> bytes:
    value: object = TEXT if inputs == 1 else [f"{i}: {TEXT}" for i in range(inputs)]
    return json.dumps({"model": model, "input": value, "encoding_format": encoding}).encode()


def chat_body(model: str) -> bytes:
    return json.dumps({"model": model, "max_tokens": 16,
                       "messages": [{"role": "user", "content": TEXT}]}).encode()


# name -> (path, body through Junction, body sent directly)
CASES = {
    "1 text, float": ("/v1/embeddings", body("auto", 1, "float"), body(MODEL, 1, "float")),
    "16 texts, base64": ("/v1/embeddings", body("auto", 16, "base64"),
                         body(MODEL, 16, "base64")),
    "16 texts, base64, external model (egress guard)": (
        "/v1/embeddings", body("embed-external", 16, "base64"), body(MODEL, 16, "base64")),
    # The same measurement of the chat door, on the same upstream, for comparison.
    "chat completion (reference)": ("/v1/chat/completions", chat_body("auto"),
                                    chat_body("unused")),
}


async def interleaved(up_port: int, gw_port: int, case: tuple[str, bytes, bytes],
                      total: int) -> tuple[Result, Result]:
    path, through, straight = case
    direct_req = build_request("127.0.0.1", up_port, path, straight)
    junction_req = build_request("127.0.0.1", gw_port, path, through)
    direct, junction = Result(), Result()
    for _ in range(max(1, total // BLOCK)):
        for request, port, into in ((direct_req, up_port, direct),
                                    (junction_req, gw_port, junction)):
            got = await run_load("127.0.0.1", port, request, BLOCK, 1)
            into.latencies_ms += got.latencies_ms
            into.errors += got.errors
            into.wall_s += got.wall_s
    return direct, junction


def own_time(gw_port: int, case: tuple[str, bytes, bytes], total: int) -> float:
    """p50 of `x-junction-overhead-ms`: Junction's own time, upstream time excluded (less
    moved by the load of other processes than the difference of two wall times)."""
    path, through, _ = case
    seen: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{gw_port}") as http:
        for _ in range(total):
            answer = http.post(path, content=through,
                               headers={"content-type": "application/json"})
            seen.append(float(answer.headers["x-junction-overhead-ms"]))
    return sorted(seen)[len(seen) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    total = 400 if args.quick else 2000
    tmp = Path(tempfile.mkdtemp(prefix="junction-embeddings-bench-"))
    up_port, gw_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    (tmp / "policy.yaml").write_text(policy(upstream))
    results: dict[str, dict[str, float]] = {}
    with process([PY, "-m", "junction_emulate", "vllm", "--port", str(up_port), "--models",
                  f"{MODEL},unused"], env={"PYTHONPATH": str(ROOT)}, log=tmp / "emulator.log"):
        wait_http(upstream + "/v1/models")
        httpx.post(upstream + "/_emulator/config",
                   json={"embedding_dimensions": 1024}).raise_for_status()
        env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_DATA_DIR": str(tmp / "data"),
               "PYTHONPATH": str(ROOT)}
        with process([PY, "-m", "router.cli", "serve", "--config",
                      str(tmp / "policy.yaml"), "--port", str(gw_port)],
                     env=env, log=tmp / "junction.log"):
            wait_http(f"http://127.0.0.1:{gw_port}/health/live")
            for name, case in CASES.items():
                # Warm both paths (connections, first-request work) before measuring.
                asyncio.run(interleaved(up_port, gw_port, case, BLOCK))
                direct, junction = asyncio.run(interleaved(up_port, gw_port, case, total))
                d, j = direct.summary(), junction.summary()
                results[name] = {
                    "requests": j["requests"], "errors": d["errors"] + j["errors"],
                    "direct_p50_ms": d["p50_ms"], "junction_p50_ms": j["p50_ms"],
                    "added_p50_ms": j["p50_ms"] - d["p50_ms"],
                    "added_p95_ms": j["p95_ms"] - d["p95_ms"],
                    "own_p50_ms": own_time(gw_port, case, total // 4),
                }
    print(f"\n{'case (concurrency 1)':<50} {'direct p50':>11} {'Junction p50':>13} "
          f"{'added p50':>10} {'added p95':>10} {'own p50':>10}")
    for name, r in results.items():
        print(f"{name:<50} {r['direct_p50_ms']:>8.3f} ms {r['junction_p50_ms']:>10.3f} ms "
              f"{r['added_p50_ms']:>7.3f} ms {r['added_p95_ms']:>7.3f} ms "
              f"{r['own_p50_ms']:>7.3f} ms"
              + (f"  ({r['errors']:.0f} errors)" if r["errors"] else ""))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
