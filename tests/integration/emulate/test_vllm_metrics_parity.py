"""The vLLM emulator's /metrics parse the same way as the real server's (a captured scrape):
same families, labels and bucket edges, and the probe reads the same fields from both."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from local_backend.metrics import endpoint_load, parse_metrics

REAL = (Path(__file__).resolve().parents[2] / "data" / "vllm_metrics_sample.txt").read_text()
USED = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds",
        "vllm:prompt_tokens", "vllm:generation_tokens")


def shape(text: str) -> dict[str, tuple[str, frozenset[str], tuple[str, ...]]]:
    """Per family: its type, its label names and (histograms) its bucket edges."""
    out = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("vllm:"):
            continue
        labels = frozenset(k for s in family.samples for k in s.labels if k != "le")
        edges = tuple(sorted({s.labels["le"] for s in family.samples if "le" in s.labels},
                             key=float))
        out[family.name] = (family.type, labels, edges)
    return out


def test_emulator_metrics_match_the_real_servers() -> None:
    behaviour = EmulatorBehaviour(models=("qwen-tiny",), max_concurrency=1, ttft=0.3)
    with run_in_thread(create_vllm_app(behaviour)) as url:
        body = {"model": "qwen-tiny", "messages": [{"role": "user", "content": "hi"}]}
        threads = [threading.Thread(target=httpx.post, args=(url + "/v1/chat/completions",),
                                    kwargs={"json": body, "timeout": 10}) for _ in range(3)]
        for t in threads:
            t.start()
        busy = ""
        for _ in range(40):
            busy = httpx.get(url + "/metrics").text
            if parse_metrics(busy, at=0.0).waiting >= 1:
                break
            threading.Event().wait(0.05)
        for t in threads:
            t.join()
        emulated = httpx.get(url + "/metrics").text

    real_shape, emulated_shape = shape(REAL), shape(emulated)
    for name in USED:
        assert name in real_shape, name
        assert emulated_shape.get(name) == real_shape[name], name

    for text in (REAL, busy):
        scrape = parse_metrics(text, at=1.0)
        assert scrape.waiting >= 1 and scrape.running >= 1
    real = endpoint_load("r", parse_metrics(REAL, 1.0), None, None, 0.0)
    fake = endpoint_load("e", parse_metrics(emulated, 1.0), None, None, 0.0)
    for load in (real, fake):
        assert load.ttft_p50_s is not None and load.e2e_p50_s is not None
        assert load.itl_p50_s is not None and load.queue_p50_s is not None
