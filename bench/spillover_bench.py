"""Spill-over under load: local-only vs API-only vs Junction's shipped default policy.

    .venv/bin/python bench/spillover_bench.py [--capacity 8] [--seconds 6] [--only junction]

An emulated vLLM serves at most `capacity` sequences at once (more wait in its queue, visible in
its /metrics) and an emulated API has no limit but is slower to first token and costs per token.
The offered load ramps from idle to 3x local capacity (open loop: requests arrive at a fixed
rate whatever happens to earlier ones). For each policy and load it reports the share of
requests served locally, p50/p95 time to first token (streamed) and dollars per 1,000 requests
(from the gateway's junction_cost_usd_total). Goal (issue 3): Junction keeps p95 TTFT within the
route's target at every load, while serving >= 90 % locally below saturation.

Junction runs `policies/default.yaml` unchanged, its `${...}` variables pointed at the emulators
(the local model as `qwen-local`, gpt-4o-mini and gpt-4o at the emulated OpenAI); the baselines
are one-model policies on the same emulators.
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
DEFAULT_POLICY = ROOT / "policies" / "default.yaml"
SERVED = "qwen3.5-35b-a3b"
API_KEY = "sk-bench"
LOCAL_NAMES = {"local", "qwen-local"}
TTFT_TARGET_MS = 1000.0
LOCAL_TTFT, LOCAL_TPS, TOKENS = 0.15, 40.0, 16
API_TTFT, API_TPS = 0.45, 80.0


def baseline(local: str, api: str, candidate: str) -> str:
    """A one-model policy: everything local, or everything to the API (gpt-4o-mini)."""
    return f"""
version: 1
models:
  local:
    backend: local
    model: {SERVED}
    endpoints: ["{local}"]
    local_cost: {{gpu_hour_usd: 3.5, gpus: 1, tokens_per_second: 2500, mode: average}}
  api:
    backend: openai
    model: gpt-4o-mini
    endpoints: ["{api}/v1"]
    api_key_env: OPENAI_API_KEY
    prices: {{input_per_million: 0.15, output_per_million: 0.6}}
routes:
  - name: default
    candidates: [{candidate}]
"""


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
    parser.add_argument("--only", choices=["local-only", "api-only", "junction"],
                        action="append", help="run only these configurations (repeatable)")
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
    with process([PY, "-m", "junction_emulate", "vllm", "--port", str(lp), "--models",
                  SERVED, "--ttft", str(LOCAL_TTFT), "--tps", str(LOCAL_TPS),
                  "--max-concurrency", str(args.capacity), "--completion-tokens", str(TOKENS),
                  "--reasoning-tokens", "0"], log=tmp / "vllm.log"), \
         process([PY, "-m", "junction_emulate", "openai", "--port", str(ap), "--models",
                  "gpt-4o-mini,gpt-4o", "--api-key", API_KEY, "--ttft", str(API_TTFT),
                  "--tps", str(API_TPS),
                  "--completion-tokens", str(TOKENS)], log=tmp / "api.log"):
        wait_http(local + "/health")
        wait_http(api + "/v1/models")
        configs = {"local-only": baseline(local, api, "local"),
                   "api-only": baseline(local, api, "api"),
                   "junction": None}
        wanted = args.only or list(configs)
        for name, text in configs.items():
            if name not in wanted:
                continue
            path = DEFAULT_POLICY
            if text is not None:
                path = tmp / f"{name}.yaml"
                path.write_text(text)
            port = free_port()
            env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_PROBE_INTERVAL_S": "0.1",
                   "JUNCTION_LOCAL_URL": local, "JUNCTION_LOCAL_MODEL": SERVED,
                   "OPENAI_BASE_URL": api + "/v1", "OPENAI_API_KEY": API_KEY,
                   "ANTHROPIC_API_KEY": "unused", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                   # Its own database: a policy stored by an earlier run would outrank the file.
                   "JUNCTION_DATA_DIR": str(tmp / f"data-{name}")}
            with process([PY, "-m", "router.cli", "serve", "--config",
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
                        "local_share": sum(m in LOCAL_NAMES for _, m in out) / len(out),
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
    spill = results.get("junction")
    if spill is None:
        return 0
    within = all(r["ttft_p95"] <= TTFT_TARGET_MS for r in spill)
    below = [r for r in spill if 0 < r["load"] < 1.0]
    local_below = min(r["local_share"] for r in below) if below else float("nan")
    print(f"\nJunction (policies/default.yaml): p95 TTFT within {TTFT_TARGET_MS:.0f} ms at "
          f"every load: {within}; lowest local share below saturation: {local_below:.1%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
