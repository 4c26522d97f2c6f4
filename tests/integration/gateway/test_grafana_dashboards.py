"""Every query of every panel in `deploy/grafana/dashboards` returns data from a real Prometheus
that scraped a real Junction (and the emulated vLLM beside it) after varied traffic: served
locally, fallen back to the API, streamed, sensitive, refused, failed, and rated by feedback.

Prometheus comes from Debian (`.ci/run` installs it and sets JUNCTION_REQUIRE_PROMETHEUS, so
there a missing binary fails); elsewhere the test skips, saying why, only where it is absent.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, emulator_config, running_gateway
from tests.support.redis_server import free_port

DASHBOARDS = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"
# What Grafana puts in place of its variables; the window covers all of the test's traffic.
GRAFANA_VARIABLES = {"$__rate_interval": "2m", "$__interval": "15s", "$__range": "5m"}
SENSITIVE = "my card is 4111 1111 1111 1111, please check it"


def _panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every query target of every panel."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels = list(dashboard.get("panels", []))
        while panels:
            panel = panels.pop(0)
            panels.extend(panel.get("panels", []))  # rows hold panels of their own
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out.append((path.name, panel.get("title", ""), target["expr"]))
    return out


def _grafana(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def _prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus is not installed (Debian package 'prometheus'; .ci/run installs it)"
        if os.environ.get("JUNCTION_REQUIRE_PROMETHEUS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def prometheus(tmp_path: Path, vllm_url: str, gateway_for_grafana: Gateway) -> Iterator[str]:
    binary = _prometheus_binary()
    targets = [url.removeprefix("http://") for url in (gateway_for_grafana.url, vllm_url)]
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "junction", "static_configs": [{"targets": targets[:1]}]},
            {"job_name": "vllm", "static_configs": [{"targets": targets[1:]}]},
        ],
    }))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w+")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"prometheus did not become ready:\n{log.read()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def gateway_for_grafana(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy_text(vllm_url, api_url), tmp_path, ENV,
                         breaker={"failure_threshold": 50, "cooldown_s": 0.5}) as gw:
        yield gw


def _traffic(gw: Gateway, vllm_url: str) -> None:
    chat = gw.v1 + "/chat/completions"

    def send(body: dict[str, Any], expect: int) -> httpx.Response:
        r = httpx.post(chat, json=body, timeout=30)
        assert r.status_code == expect, r.text
        return r

    plain = {"model": "auto", "messages": [{"role": "user", "content": "hello there"}]}
    served = send(plain, 200)  # local
    httpx.post(gw.v1 + "/feedback", json={
        "request_id": served.headers["x-junction-request-id"], "score": 0.9}, timeout=10)
    with httpx.stream("POST", chat, json={**plain, "stream": True}, timeout=30) as r:
        assert r.status_code == 200
        r.read()
    send({**plain, "messages": [{"role": "user", "content": SENSITIVE}]}, 200)  # sensitive
    # Refused before any upstream call: a sensitive body asked of the external model.
    send({"model": "api", "messages": [{"role": "user", "content": SENSITIVE}]}, 403)
    emulator_config(vllm_url, fail_next=1, error_status=500)
    send(plain, 200)  # the local model failed: spilled over to the API
    emulator_config(vllm_url, fail_next=1, error_status=503)
    send({**plain, "messages": [{"role": "user", "content": SENSITIVE}]}, 503)  # fail-closed


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(prometheus + "/api/v1/query", params={"query": expr}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def _wait_for_scrapes_after(prometheus: str, moment: float, timeout_s: float = 60) -> None:
    """Poll until both targets were scraped after `moment` (unix time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stamps = [float(s["value"][1]) for s in _query(prometheus, "timestamp(up == 1)")]
        if len(stamps) == 2 and min(stamps) > moment:
            return
        time.sleep(0.2)
    pytest.fail(f"prometheus did not scrape both targets within {timeout_s}s")


def _has_data(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


def test_every_panel_query_returns_data(prometheus: str, gateway_for_grafana: Gateway,
                                        vllm_url: str) -> None:
    queries = _panel_queries()
    assert queries, f"no panel queries in {DASHBOARDS}"
    emulator_config(vllm_url, ttft=0.05)
    # Two rounds of traffic, each scraped before the next: every series then has a sample
    # before and after a change, which rate() needs.
    for _ in range(2):
        _traffic(gateway_for_grafana, vllm_url)
        _wait_for_scrapes_after(prometheus, time.time())
    deadline = time.monotonic() + 60
    pending = {expr for _, _, expr in queries}
    while pending and time.monotonic() < deadline:
        pending = {expr for expr in pending if not _has_data(_query(prometheus, _grafana(expr)))}
        if pending:
            time.sleep(1)
    missing = [(f, title, expr) for f, title, expr in queries if expr in pending]
    assert not missing, "panel queries with no data:\n" + "\n".join(map(str, missing))
