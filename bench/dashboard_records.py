"""Synthetic but realistic request records for the dashboard's benchmark and screenshots.

Shapes follow what the gateway writes: most chat traffic served locally, code and long
documents partly on API models, a share of sensitive requests kept local or refused, some
spill-overs when the local model was saturated, a few errors and exploration picks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from router.app import create_app
from router.classify.types import Sensitivity, Task
from router.settings import Settings
from router.stats.records import (
    Attempt,
    CandidateSummary,
    ClassificationSummary,
    DecisionSummary,
    RequestRecord,
)
from router.store.database import Database, database_url

MODELS = {"local": "local", "api-small": "external", "api-large": "external"}
PRICES = {"local": (0.02, 0.02), "api-small": (0.15, 0.60), "api-large": (2.50, 10.0)}
TEAMS = ("acme", "research", "support")
ROUTES = ("default", "code", "sensitive")
_KINDS = ("email", "iban", "phone", "api_key")


def synthetic_record(rng: random.Random, index: int, at: float) -> RequestRecord:
    """One record at time `at`; `index` makes the request id unique."""
    sensitive = rng.random() < 0.12
    task = rng.choice(list(Task))
    route = "sensitive" if sensitive else ("code" if task is Task.CODE else "default")
    spilled = not sensitive and rng.random() < 0.08
    if sensitive:
        first, order = "local", ["local"]
    else:
        first = "local" if rng.random() < 0.7 else rng.choice(["api-small", "api-large"])
        order = [first] + [m for m in MODELS if m != first and not (spilled and m == "local")]
    if spilled:
        first, order = "api-small", ["api-small", "api-large", "local"]
    refused = sensitive and rng.random() < 0.1
    failed = not refused and rng.random() < 0.03
    status = 503 if refused else (502 if failed else 200)
    answered = None if (refused or failed) else first
    tokens_in = rng.randint(20, 4000)
    tokens_out = 0 if answered is None else rng.randint(5, 800)
    price = PRICES.get(answered or "local", (0.0, 0.0))
    cost = (tokens_in * price[0] + tokens_out * price[1]) / 1e6 if answered else 0.0
    streamed = rng.random() < 0.5
    total = rng.lognormvariate(6.0 if answered == "local" else 6.6, 0.5)
    kind = rng.choice(_KINDS) if sensitive else None
    findings = {kind: 1} if kind else {}
    fields = {kind: [f"messages[{rng.randint(0, 3)}].content"]} if kind else {}
    sensitivity = (Sensitivity.SECRET if kind == "api_key" else Sensitivity.PII) if kind \
        else Sensitivity.NONE
    attempts = [] if refused else [Attempt(
        model=first, endpoint=f"http://{first}.internal/v1", outcome="ok" if answered else "502",
        duration_ms=round(total * 0.95, 1))]
    return RequestRecord(
        request_id=f"req-{index:08d}-{rng.getrandbits(32):08x}", time=at,
        key_id=f"k{rng.randint(1, 12):02d}", team=rng.choice(TEAMS), route=route,
        classification=ClassificationSummary(
            task=task, difficulty=round(rng.random(), 3), sensitivity=sensitivity,
            findings=findings, fields=fields, prompt_tokens=tokens_in),
        candidates=order, chosen=order[0], attempts=attempts, answered_by=answered,
        tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=round(cost, 8),
        ttft_ms=round(total * 0.2, 1) if streamed and answered else None,
        total_ms=round(total, 1), status=status, streamed=streamed,
        exploration=rng.random() < 0.03,
        spill_reason="local_queue" if spilled else (
            "failover_503" if not sensitive and rng.random() < 0.01 else None),
        policy_version=1,
        decision=DecisionSummary(objective="min_cost", fail_closed=sensitive, candidates=[
            CandidateSummary(model=m, role="candidate", kept=True, kind="eligible",
                             reason="eligible", residency=MODELS[m],
                             spilled=spilled and m == "local")
            for m in order], rejection="no_local_model_available" if refused else None),
        answered_local=None if answered is None else MODELS[answered] == "local",
        sent_external=answered is not None and MODELS[answered] == "external",
    )


def synthetic_records(count: int, span_s: float, now: float | None = None,
                      seed: int = 7) -> list[RequestRecord]:
    """`count` records spread evenly over the last `span_s` seconds."""
    rng = random.Random(seed)
    end = time.time() if now is None else now
    return [synthetic_record(rng, i, end - span_s + span_s * (i + rng.random()) / count)
            for i in range(count)]


async def fill(db: Database, records: list[RequestRecord], batch: int = 2000) -> None:
    """Through `Database.insert_records`, the writer's own path, in batches."""
    for start in range(0, len(records), batch):
        await db.insert_records(records[start:start + batch])


POLICY = """
version: 1
models:
  local:
    backend: local
    model: qwen-local
    endpoints: ["{local}"]
  api-small:
    backend: openai
    model: gpt-small
    endpoints: ["http://127.0.0.1:9/v1"]
    api_key_env: BENCH_API_KEY
    prices: {input_per_million: 0.15, output_per_million: 0.6}
  api-large:
    backend: openai
    model: gpt-large
    endpoints: ["http://127.0.0.1:9/v1"]
    api_key_env: BENCH_API_KEY
    prices: {input_per_million: 2.5, output_per_million: 10.0}
routes:
  - name: sensitive
    match: {sensitivity: [pii, confidential, secret]}
    candidates: [local]
    on_unavailable: reject
  - name: code
    match: {task: [code]}
    candidates: [local, api-small, api-large]
  - name: default
    candidates: [local, api-small, api-large]
reporting: {reference_model: api-large}
"""
TOKEN = "bench-dashboard-token-0123456789"


@contextmanager
def dashboard_gateway(records: list[RequestRecord], workdir: Path) -> Iterator[str]:
    """A real gateway on loopback whose SQLite store holds `records`; yields its URL.
    The admin token is `TOKEN` (role viewer)."""
    data = workdir / "data"
    db = Database(database_url(None, data))

    async def load() -> None:
        try:
            await fill(db, records)
        finally:
            await db.aclose()

    asyncio.run(load())
    # An emulated vLLM as the local model, so Speed shows the probe's queue and KV cache.
    vllm = create_vllm_app(EmulatorBehaviour(models=("qwen-local",)))
    with run_in_thread(vllm) as local:
        policy = workdir / "policy.yaml"
        policy.write_text(POLICY.replace("{local}", local))
        settings = Settings(policy_file=policy, data_dir=data, admin_tokens=[
            {"name": "bench", "token": TOKEN, "role": "viewer"}])  # type: ignore[list-item]
        app = create_app(settings, environ={"BENCH_API_KEY": "sk-bench"})
        with run_in_thread(app) as url:
            yield url
