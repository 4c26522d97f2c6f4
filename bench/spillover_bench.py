"""Spill-over under load: local-only vs API-only vs Junction's spill-over policy.

    .venv/bin/python bench/spillover_bench.py [--capacity 8] [--seconds 6]

An emulated vLLM serves at most `capacity` sequences at once (more wait in its queue, visible in
its /metrics) and an emulated API has no limit but is slower to first token and costs per token.
The offered load ramps from idle to 3x local capacity (open loop: requests arrive at a fixed
rate whatever happens to earlier ones). For each policy and load it reports the share of
requests served locally, p50/p95 time to first token (streamed) and dollars per 1,000 requests
(from the gateway's junction_cost_usd_total). Goal (issue 3): Junction keeps p95 TTFT within the
route's target at every load, while serving >= 90 % locally below saturation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_bench import ROOT, free_port, process, wait_http

PY = sys.executable
TTFT_TARGET_MS = 1000.0
LOCAL_TTFT, LOCAL_TPS, TOKENS = 0.15, 40.0, 16
API_TTFT, API_TPS = 0.45, 80.0


def policy(local: str, api: str, candidates: list[str], spill: bool) -> str:
    spill_block = (
        f"    spill: {{max_waiting: 1, max_predicted_ttft_ms: {TTFT_TARGET_MS * 0.6:.0f}, "
        "resume_ratio: 0.5}\n" if spill else ""
    )
    return f"""
version: 1
models:
  local:
    backend: local
    model: qwen-bench
    endpoints: ["{local}"]
    local_cost: {{gpu_hour_usd: 3.5, gpus: 1, tokens_per_second: 2500}}
  api:
    backend: openai
    model: api-model
    endpoints: ["{api}/v1"]
    prices: {{input_per_million: 2.5, output_per_million: 10}}
routes:
  - name: default
    candidates: [{", ".join(candidates)}]
    objective: min_cost
    constraints: {{max_latency_ms: {TTFT_TARGET_MS * 10:.0f}}}
{spill_block}"""


async def one(client: httpx.AsyncClient, url: str, out: list[tuple[float, str]]) -> None:
    body = {"model": "auto", "stream": True, "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "Give me a short status update."}]}
    start = time.perf_counter()
    try:
        async with client.stream("POST", url, json=body) as r:
            model = r.headers.get("x-junction-model", "?") if r.status_code == 200 else "error"
            first = True
            async for _ in r.aiter_raw():
                if first:
                    out.append(((time.perf_counter() - start) * 1000.0, model))
                    first = False
    except httpx.HTTPError:
        out.append((float("inf"), "error"))


async def offered(url: str, rate: float, seconds: float) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tasks = []
        n = max(1, int(rate * seconds))
        begin = time.perf_counter()
        for i in range(n):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, url, out)))
        await asyncio.gather(*tasks)
    return out


def cost_total(base: str) -> float:
    text = httpx.get(base + "/metrics").text
    return sum(float(v) for v in re.findall(r'^junction_cost_usd_total\{[^}]*\} (\S+)', text,
                                            re.M))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    service_s = LOCAL_TTFT + TOKENS / LOCAL_TPS
    capacity_rps = args.capacity / service_s
    levels = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    print(f"local capacity: {args.capacity} sequences x {service_s:.2f} s each = "
          f"{capacity_rps:.1f} requests/s; TTFT target {TTFT_TARGET_MS:.0f} ms", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="junction-spill-"))
    lp, ap = free_port(), free_port()
    local, api = f"http://127.0.0.1:{lp}", f"http://127.0.0.1:{ap}"
    results: dict[str, list[dict[str, float]]] = {}
    with process([PY, "-m", "router.emulate", "vllm", "--port", str(lp), "--models",
                  "qwen-bench", "--ttft", str(LOCAL_TTFT), "--tps", str(LOCAL_TPS),
                  "--max-concurrency", str(args.capacity), "--completion-tokens", str(TOKENS),
                  "--reasoning-tokens", "0"], log=tmp / "vllm.log"), \
         process([PY, "-m", "router.emulate", "openai", "--port", str(ap), "--models",
                  "api-model", "--ttft", str(API_TTFT), "--tps", str(API_TPS),
                  "--completion-tokens", str(TOKENS)], log=tmp / "api.log"):
        wait_http(local + "/health")
        wait_http(api + "/v1/models")
        configs = {"local-only": (["local"], False), "api-only": (["api"], False),
                   "junction-spill": (["local", "api"], True)}
        for name, (candidates, spill) in configs.items():
            path = tmp / f"{name}.yaml"
            path.write_text(policy(local, api, candidates, spill))
            port = free_port()
            env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_PROBE_INTERVAL_S": "0.1"}
            with process([str(ROOT / ".venv" / "bin" / "junction"), "serve", "--config",
                          str(path), "--port", str(port)], env=env, log=tmp / f"{name}.log"):
                base = f"http://127.0.0.1:{port}"
                wait_http(base + "/health/live")
                rows = []
                for level in levels:
                    rate = max(level * capacity_rps, 1.0)
                    before = cost_total(base)
                    out = asyncio.run(offered(base + "/v1/chat/completions", rate, args.seconds))
                    spent = cost_total(base) - before
                    ok = [t for t, m in out if m != "error"]
                    rows.append({
                        "load": level, "rate": rate, "n": len(out),
                        "local_share": sum(m == "local" for _, m in out) / len(out),
                        "ttft_p50": pct(ok, 50) if ok else float("nan"),
                        "ttft_p95": pct(ok, 95) if ok else float("nan"),
                        "usd_per_1000": spent / len(out) * 1000,
                        "errors": sum(m == "error" for _, m in out),
                    })
                    r = rows[-1]
                    print(f"{name:15} load {level:4.2f}x ({rate:5.1f} rps): local "
                          f"{r['local_share']:6.1%}  TTFT p50 {r['ttft_p50']:7.0f} ms  "
                          f"p95 {r['ttft_p95']:7.0f} ms  ${r['usd_per_1000']:.4f}/1k  "
                          f"errors {r['errors']:.0f}", flush=True)
                    time.sleep(1.0)  # let queues drain between levels
                results[name] = rows
    spill = results["junction-spill"]
    within = all(r["ttft_p95"] <= TTFT_TARGET_MS for r in spill)
    below = [r for r in spill if 0 < r["load"] < 1.0]
    local_below = min(r["local_share"] for r in below) if below else float("nan")
    print(f"\nJunction spill-over: p95 TTFT within {TTFT_TARGET_MS:.0f} ms at every load: "
          f"{within}; lowest local share below saturation: {local_below:.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
