"""Junction's added latency, throughput, streaming first byte and memory, side by side with the
LiteLLM proxy, both pointed at the same emulated OpenAI-compatible upstream on loopback.

    .venv/bin/python bench/gateway_bench.py            # everything (LiteLLM proxy if installed)
    .venv/bin/python bench/gateway_bench.py --quick    # fewer requests
    .venv/bin/python bench/gateway_bench.py --setup-litellm   # first install litellm[proxy]
    .venv/bin/python bench/gateway_bench.py --otlp     # tracing to an OTLP endpoint vs off

Every server runs in its own process; the load generator (bench/loadgen.py) is a raw asyncio
HTTP/1.1 client so that it costs little CPU. Targets (issue 2): added p50 <= 1.5 ms at
concurrency 1; throughput at concurrency 64 >= 2x the LiteLLM proxy's; streaming added time to
first byte p50 <= 2 ms; resident memory after 10,000 requests <= 150 MB and not growing.

"added p50" compares two runs made one after the other, so background load that changes between
them moves it; "added p50 interleaved" alternates one request to Junction with one to its
upstream directly, so both see the same load: on a busy machine, quote that one. Each gateway is
measured once `/health/ready` answers (for a policy with a litellm model, after litellm's
import has finished).
With `--otlp` (issue 13): tracing exported over OTLP/HTTP to a local receiver adds <= 1.5 ms p50
at concurrency 1 and costs <= 10 % of the throughput at concurrency 64, against tracing off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, build_request, read_response, run_load

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
LITELLM_VENV = ROOT / ".litellm-proxy-venv"
LITELLM_RELEASE = "1.108.7"  # the newest release whose [proxy] extra resolves here
AUTH = "sk-bench-master-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0, headers=headers).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


@contextmanager
def process(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=out, start_new_session=True
    )
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        if log:
            out.close()  # type: ignore[union-attr]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pid(parent: int) -> int:
    """uvicorn with one worker serves in the parent process itself."""
    return parent


def junction_policy(upstream: str, backend: str) -> str:
    """The bench's one-model policy; "external" is the openai path to a model of external
    residency, so the egress guard re-scans every request before it is sent."""
    residency = "external" if backend == "external" else "local"
    if backend == "litellm":
        model = f"""
    backend: litellm
    model: openai/fake-model
    endpoints: ["{upstream}/v1"]
    api_key_env: BENCH_UPSTREAM_KEY"""
    else:
        model = f"""
    backend: openai
    model: fake-model
    endpoints: ["{upstream}"]"""
    return f"""
version: 1
models:
  upstream:{model}
    residency: {residency}
    prices: {{input_per_million: 0.15, output_per_million: 0.6}}
    capabilities: [tools, json_schema]
    context_window: 128000
routes:
  - name: default
    candidates: [upstream]
"""


def litellm_config(upstream: str) -> str:
    return f"""
model_list:
  - model_name: fake-model
    litellm_params:
      model: openai/fake-model
      api_base: {upstream}/v1
      api_key: anything
general_settings:
  master_key: {AUTH}
litellm_settings:
  telemetry: false
"""


def body(model: str, stream: bool = False) -> bytes:
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Say hello to the benchmark in one line."}],
            "max_tokens": 16,
            "stream": stream,
        }
    ).encode()


def measure(port: int, model: str, n1: int, n64: int, stream_n: int) -> dict[str, object]:
    req = build_request(
        "127.0.0.1", port, "/v1/chat/completions", body(model), {"Authorization": f"Bearer {AUTH}"}
    )
    sreq = build_request(
        "127.0.0.1",
        port,
        "/v1/chat/completions",
        body(model, True),
        {"Authorization": f"Bearer {AUTH}"},
    )
    asyncio.run(run_load("127.0.0.1", port, req, 50, 1))  # warm up
    c1 = asyncio.run(run_load("127.0.0.1", port, req, n1, 1)).summary()
    c64 = asyncio.run(run_load("127.0.0.1", port, req, n64, 64)).summary()
    st = asyncio.run(run_load("127.0.0.1", port, sreq, stream_n, 1)).summary()
    return {"c1": c1, "c64": c64, "stream_c1": st}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--setup-litellm",
        action="store_true",
        help=f"install litellm[proxy]=={LITELLM_RELEASE} into {LITELLM_VENV.name}",
    )
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument(
        "--memory-only", action="store_true",
        help="only the shipped default policy's memory run (16 clients): RSS by requests served, "
        "records dropped, and records written to the database",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--otlp", action="store_true",
                        help="only compare tracing exported to a local OTLP receiver with "
                        "tracing off, the two gateways measured in alternation")
    parser.add_argument("--rounds", type=int, default=5, help="alternations for --otlp")
    args = parser.parse_args()
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if args.memory_only:
        results = default_policy_memory(args.memory_requests)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    n1, n64, ns = (300, 1000, 200) if args.quick else (2000, 4000, 1000)
    if args.otlp:
        return otlp_comparison(n1, n64, args.rounds, args.json)

    if args.setup_litellm and not (LITELLM_VENV / "bin" / "litellm").exists():
        subprocess.run([PY, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [
                str(LITELLM_VENV / "bin" / "pip"),
                "install",
                "-q",
                f"litellm[proxy]=={LITELLM_RELEASE}",
            ],
            check=True,
        )

    results: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp(prefix="junction-bench-"))
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    with process(
        [PY, "-m", "junction_emulate", "openai", "--port", str(up_port), "--models", "fake-model"],
        log=tmp / "emulator.log",
    ):
        wait_http(upstream + "/v1/models")
        print("measuring the emulated upstream directly ...", flush=True)
        results["direct"] = measure(up_port, "fake-model", n1, n64, ns)

        for backend in ("openai", "external", "litellm"):
            policy = tmp / f"policy-{backend}.yaml"
            policy.write_text(junction_policy(upstream, backend))
            port = free_port()
            # A data directory of its own: a stored policy would outrank the file given.
            env = {"JUNCTION_LOG_LEVEL": "warning", "BENCH_UPSTREAM_KEY": "anything",
                   "JUNCTION_DATA_DIR": str(tmp / f"data-{backend}")}
            with process(
                [
                    str(ROOT / ".venv" / "bin" / "junction"),
                    "serve",
                    "--config",
                    str(policy),
                    "--port",
                    str(port),
                ],
                env=env,
                log=tmp / f"junction-{backend}.log",
            ) as proc:
                # Ready, not just live: litellm's import (seconds of CPU holding the GIL) runs
                # in a thread after start, and readiness waits for it.
                wait_http(f"http://127.0.0.1:{port}/health/ready")
                print(f"measuring Junction ({backend} provider path) ...", flush=True)
                key = f"junction_{backend}"
                results[key] = measure(port, "auto", n1, n64, ns)
                results[key]["c1_interleaved"] = interleaved(
                    port, "auto", up_port, "fake-model", n1)
                if backend == "openai":
                    results["memory"] = memory_run(port, proc.pid, args.memory_requests)

        default_policy_run(tmp, upstream, results, n1, n64, ns)

        if not args.skip_litellm and (LITELLM_VENV / "bin" / "litellm").exists():
            cfg = tmp / "litellm.yaml"
            cfg.write_text(litellm_config(upstream))
            port = free_port()
            with process(
                [
                    str(LITELLM_VENV / "bin" / "litellm"),
                    "--config",
                    str(cfg),
                    "--port",
                    str(port),
                    "--host",
                    "127.0.0.1",
                ],
                env={"LITELLM_LOG": "ERROR"},
                log=tmp / "litellm.log",
            ) as proc:
                wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
                print("measuring the LiteLLM proxy ...", flush=True)
                n_l = (max(200, n1 // 4), max(500, n64 // 4), max(100, ns // 4))
                results["litellm_proxy"] = measure(port, "fake-model", *n_l)
                results["litellm_proxy_rss_mb"] = rss_mb(proc.pid)
        else:
            print(
                f"(LiteLLM proxy not installed in {LITELLM_VENV.name}: run with "
                "--setup-litellm to compare)"
            )

    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def default_policy_run(
    tmp: Path, api_upstream: str, results: dict[str, object], n1: int, n64: int, ns: int
) -> None:
    """The shipped `policies/default.yaml` as an operator starts it, its local model an
    emulated vLLM and its OpenAI models the emulated API: what a first deployment adds."""
    vllm_port = free_port()
    vllm = f"http://127.0.0.1:{vllm_port}"
    with process(
        [PY, "-m", "junction_emulate", "vllm", "--port", str(vllm_port), "--models", "fake-model"],
        log=tmp / "vllm-emulator.log",
    ):
        wait_http(vllm + "/v1/models")
        print("measuring the emulated vLLM directly ...", flush=True)
        results["direct_vllm"] = measure(vllm_port, "fake-model", n1, n64, ns)
        port = free_port()
        env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_LOCAL_URL": vllm,
               "JUNCTION_LOCAL_MODEL": "fake-model", "OPENAI_BASE_URL": api_upstream + "/v1",
               "OPENAI_API_KEY": "anything", "JUNCTION_DATA_DIR": str(tmp / "data-default")}
        with process(
            [str(ROOT / ".venv" / "bin" / "junction"), "serve", "--config",
             str(ROOT / "policies" / "default.yaml"), "--port", str(port)],
            env=env, log=tmp / "junction-default.log",
        ):
            wait_http(f"http://127.0.0.1:{port}/health/ready")
            served = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                content=body("auto"), timeout=30,
                                headers={"content-type": "application/json"})
            results["default_policy_served_by"] = served.headers.get("x-junction-model")
            print(f"measuring Junction (shipped default policy, served by "
                  f"{results['default_policy_served_by']}) ...", flush=True)
            results["junction_default_policy"] = measure(port, "auto", n1, n64, ns)
            results["junction_default_policy"]["c1_interleaved"] = interleaved(
                port, "auto", vllm_port, "fake-model", n1)


def interleaved(port: int, model: str, base_port: int, base_model: str, n: int) -> dict[str, float]:
    """Added latency at concurrency 1, measured fairly on a busy machine: one request to
    Junction, then one to its upstream directly, in turn over kept-alive connections, so that
    both see the same background load; the difference of the two p50s."""
    ours = Result()
    base = Result()

    async def run() -> None:
        conns = [await asyncio.open_connection("127.0.0.1", p) for p in (port, base_port)]
        reqs = [build_request("127.0.0.1", p, "/v1/chat/completions", body(m),
                              {"Authorization": f"Bearer {AUTH}"})
                for p, m in ((port, model), (base_port, base_model))]
        try:
            for i in range(n + 50):
                for (reader, writer), req, result in zip(conns, reqs, (ours, base), strict=True):
                    start = time.perf_counter()
                    writer.write(req)
                    await read_response(reader, start, result)
                    if i >= 50:  # the first 50 warm up
                        result.latencies_ms.append((time.perf_counter() - start) * 1000)
        finally:
            for _, writer in conns:
                writer.close()

    asyncio.run(run())
    p50, base_p50 = ours.pct(ours.latencies_ms, 50), base.pct(base.latencies_ms, 50)
    return {"p50_ms": p50, "base_p50_ms": base_p50, "added_p50_ms": p50 - base_p50,
            "errors": float(ours.errors + base.errors)}


@contextmanager
def junction(tmp: Path, name: str, upstream: str,
             extra_env: dict[str, str]) -> Iterator[tuple[int, int]]:
    """`junction serve` on the bench's one-model policy (openai path); yields (port, pid)."""
    policy = tmp / f"policy-{name}.yaml"
    policy.write_text(junction_policy(upstream, "openai"))
    port = free_port()
    env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_DATA_DIR": str(tmp / f"data-{name}"),
           **extra_env}
    with process([PY, "-m", "router.cli", "serve", "--config", str(policy), "--port", str(port)],
                 env=env, log=tmp / f"junction-{name}.log") as proc:
        wait_http(f"http://127.0.0.1:{port}/health/ready")
        yield port, proc.pid


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used, every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def otlp_comparison(n1: int, n64: int, rounds: int, out: Path | None) -> int:
    """Tracing on (OTLP/HTTP to a receiver in its own process) against tracing off: both
    gateways run at once and are measured in alternation, so drift on a shared machine falls
    on both alike; each figure is the median over the rounds."""
    tmp = Path(tempfile.mkdtemp(prefix="junction-bench-otlp-"))
    up_port, sink_port = free_port(), free_port()
    upstream, sink = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{sink_port}"
    runs: dict[str, dict[str, list[float]]] = {
        mode: {"c1_p50_ms": [], "c64_rps": [], "c64_cpu_ms_per_request": [], "errors": []}
        for mode in ("off", "otlp")}
    with process([PY, "-m", "junction_emulate", "openai", "--port", str(up_port), "--models",
                  "fake-model"], log=tmp / "emulator.log"), \
            process([PY, "-m", "junction_emulate.otlp", "--port", str(sink_port)],
                    log=tmp / "sink.log"), \
            junction(tmp, "off", upstream, {}) as off, \
            junction(tmp, "otlp", upstream, {"JUNCTION_OTEL_EXPORTER": "otlp",
                                             "OTEL_EXPORTER_OTLP_ENDPOINT": sink}) as on:
        wait_http(upstream + "/v1/models")
        wait_http(sink + "/_sink/count")
        ports = {"off": off[0], "otlp": on[0]}
        pids = {"off": off[1], "otlp": on[1]}
        requests = {mode: build_request("127.0.0.1", port, "/v1/chat/completions",
                                        body("auto"), {}) for mode, port in ports.items()}
        for mode, port in ports.items():
            asyncio.run(run_load("127.0.0.1", port, requests[mode], 200, 8))  # warm up
        for i in range(rounds):
            order = ("off", "otlp") if i % 2 == 0 else ("otlp", "off")
            print(f"round {i + 1}/{rounds} ({' then '.join(order)}) ...", flush=True)
            for mode in order:
                c1 = asyncio.run(run_load("127.0.0.1", ports[mode], requests[mode], n1, 1))
                runs[mode]["c1_p50_ms"].append(float(c1.summary()["p50_ms"]))
                runs[mode]["errors"].append(float(c1.errors))
            for mode in reversed(order):
                used = cpu_s(pids[mode])
                c64 = asyncio.run(run_load("127.0.0.1", ports[mode], requests[mode], n64, 64))
                # The exporter's thread is in the gateway's process: its CPU counts too.
                runs[mode]["c64_cpu_ms_per_request"].append(
                    (cpu_s(pids[mode]) - used) * 1000.0 / n64)
                runs[mode]["c64_rps"].append(float(c64.summary()["rps"]))
                runs[mode]["errors"].append(float(c64.errors))
        time.sleep(2)  # the exporter's batch delay is 5 s at most; let the last batch out
        received = httpx.get(sink + "/_sink/count", timeout=5).json()

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    figures = {mode: {k: median(v) for k, v in data.items()} for mode, data in runs.items()}
    added = figures["otlp"]["c1_p50_ms"] - figures["off"]["c1_p50_ms"]
    ratio = figures["otlp"]["c64_rps"] / figures["off"]["c64_rps"]
    cpu_ratio = (figures["off"]["c64_cpu_ms_per_request"]
                 / figures["otlp"]["c64_cpu_ms_per_request"])
    print("\n== tracing to OTLP vs off (median of rounds; per-round values in brackets)")
    for mode in ("off", "otlp"):
        print(f"{mode:6} c1 p50 {figures[mode]['c1_p50_ms']:6.2f} ms "
              f"{[round(v, 2) for v in runs[mode]['c1_p50_ms']]}   "
              f"c64 {figures[mode]['c64_rps']:6.0f} rps "
              f"{[round(v) for v in runs[mode]['c64_rps']]}   "
              f"c64 CPU {figures[mode]['c64_cpu_ms_per_request']:.3f} ms/request "
              f"{[round(v, 3) for v in runs[mode]['c64_cpu_ms_per_request']]}")
    print(f"added p50 at c1: {added:+.2f} ms (target <= 1.5); c64 throughput with tracing: "
          f"{ratio:.1%} of off (target >= 90%), by CPU per request (the one worker is CPU-bound "
          f"at c64, so throughput is its inverse) {cpu_ratio:.1%}; spans received: "
          f"{received['spans']} in {received['exports']} exports, {received['rejected']} "
          "rejected; failed requests: "
          f"off {sum(runs['off']['errors']):.0f}, otlp {sum(runs['otlp']['errors']):.0f}")
    if out:
        out.write_text(json.dumps({"runs": runs, "figures": figures, "added_c1_p50_ms": added,
                                   "c64_ratio": ratio, "c64_cpu_ratio": cpu_ratio,
                                   "sink": received}, indent=2))
    return 0


def default_policy_memory(total: int) -> dict[str, object]:
    """The shipped default policy under `total` requests from 16 clients: RSS as they are
    served, then (once the writer has had its flush interval) the drop counter and the records
    the database holds, which must be every request answered."""
    tmp = Path(tempfile.mkdtemp(prefix="junction-bench-"))
    up_port, vllm_port, port = free_port(), free_port(), free_port()
    upstream, vllm = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{vllm_port}"
    env = {"JUNCTION_LOG_LEVEL": "warning", "JUNCTION_LOCAL_URL": vllm,
           "JUNCTION_LOCAL_MODEL": "fake-model", "OPENAI_BASE_URL": upstream + "/v1",
           "OPENAI_API_KEY": "anything", "JUNCTION_DATA_DIR": str(tmp / "data")}
    with process([PY, "-m", "junction_emulate", "openai", "--port", str(up_port),
                  "--models", "fake-model"], log=tmp / "emulator.log"), \
         process([PY, "-m", "junction_emulate", "vllm", "--port", str(vllm_port),
                  "--models", "fake-model"], log=tmp / "vllm-emulator.log"):
        wait_http(upstream + "/v1/models")
        wait_http(vllm + "/v1/models")
        with process([str(ROOT / ".venv" / "bin" / "junction"), "serve", "--config",
                      str(ROOT / "policies" / "default.yaml"), "--port", str(port)],
                     env=env, log=tmp / "junction.log") as proc:
            wait_http(f"http://127.0.0.1:{port}/health/live")
            started = time.perf_counter()
            memory = memory_run(port, proc.pid, total)
            wall = time.perf_counter() - started
            time.sleep(2.0)  # the writer's flush interval, many times over
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    dropped = sum(float(line.split()[-1]) for line in metrics.splitlines()
                  if line.startswith("junction_records_dropped_total"))
    with sqlite3.connect(tmp / "data" / "junction.db") as db:
        stored = int(db.execute("SELECT count(*) FROM request_records").fetchone()[0])
    results = {"memory": memory, "requests": total, "rps": total / wall,
               "records_dropped": dropped, "records_stored": stored}
    print("RSS (MB) by requests served: "
          + ", ".join(f"{n}: {mb:.1f}" for n, mb in memory["samples"]))  # type: ignore[index]
    print(f"{total / wall:.0f} requests/s; records dropped: {dropped:.0f}; "
          f"records in the database: {stored} of {total}")
    return results


def memory_run(port: int, pid: int, total: int) -> dict[str, object]:
    req = build_request(
        "127.0.0.1", port, "/v1/chat/completions", body("auto"), {"Authorization": f"Bearer {AUTH}"}
    )
    samples = [(0, rss_mb(pid))]
    step = max(1, total // 5)
    done = 0
    while done < total:
        asyncio.run(run_load("127.0.0.1", port, req, step, 16))
        done += step
        samples.append((done, rss_mb(pid)))
    return {"samples": samples}


def report(results: dict[str, object]) -> None:
    def get(name: str, phase: str, key: str) -> float:
        data = results.get(name)
        if not isinstance(data, dict):
            return float("nan")
        values = data.get(phase)
        return float(values.get(key, "nan")) if isinstance(values, dict) else float("nan")

    print("\n== results (ms; rps = requests/s)")
    header = (
        f"{'':22}{'c1 p50':>9}{'c1 p99':>9}{'added p50':>11}{'c64 rps':>10}"
        f"{'stream ttfb p50':>17}{'added ttfb':>12}{'added p50 interleaved':>22}"
    )
    print(header)
    for name in ("direct", "junction_openai", "junction_external", "junction_litellm",
                 "litellm_proxy", "direct_vllm", "junction_default_policy"):
        if name not in results:
            continue
        # Each Junction run is compared with its own upstream measured directly.
        direct = "direct_vllm" if name in ("direct_vllm", "junction_default_policy") \
            else "direct"
        base = get(direct, "c1", "p50_ms")
        base_ttfb = get(direct, "stream_c1", "ttfb_p50_ms")
        p50 = get(name, "c1", "p50_ms")
        ttfb = get(name, "stream_c1", "ttfb_p50_ms")
        print(
            f"{name:22}{p50:9.2f}{get(name, 'c1', 'p99_ms'):9.2f}{p50 - base:11.2f}"
            f"{get(name, 'c64', 'rps'):10.0f}{ttfb:17.2f}{ttfb - base_ttfb:12.2f}"
            f"{get(name, 'c1_interleaved', 'added_p50_ms'):22.2f}"
        )
    if "litellm_proxy" in results:
        ratio = get("junction_openai", "c64", "rps") / get("litellm_proxy", "c64", "rps")
        print(f"\nthroughput at c64, Junction / LiteLLM proxy: {ratio:.1f}x")
        print(f"LiteLLM proxy RSS: {results.get('litellm_proxy_rss_mb', float('nan')):.0f} MB")
    memory = results.get("memory")
    if isinstance(memory, dict):
        print(
            "Junction RSS (MB) by requests served: "
            + ", ".join(f"{n}: {mb:.1f}" for n, mb in memory["samples"])
        )
    for name in ("junction_openai", "junction_litellm", "litellm_proxy"):
        data = results.get(name)
        if isinstance(data, dict):
            errors = sum(int(data[p]["errors"]) for p in ("c1", "c64", "stream_c1"))
            if errors:
                print(f"WARNING: {name} had {errors} failed requests")


if __name__ == "__main__":
    raise SystemExit(main())
