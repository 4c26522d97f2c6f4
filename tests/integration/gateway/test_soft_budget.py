"""Above a budget's soft limit a route may keep the caller on local models; at the hard limit
requests get 429 budget_exceeded with the reset time."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import running_gateway

ROUTES = """
  - name: paid
    match: {headers: {x-paid: "yes"}}
    candidates: [api, local]
    objective: max_quality
    on_budget_soft_limit: local_only
"""
QUALITY = "quality:\n  chat: {local: 0.8, api: 0.8}\n"
ADMIN = "soft-budget-admin"


def test_soft_limit_downgrades_to_local_and_hard_limit_refuses(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    text = policy_text(vllm_url, api_url, routes=ROUTES).replace(
        QUALITY, "quality:\n  chat: {local: 0.6, api: 0.9}\n")
    with running_gateway(text, tmp_path, ENV, admin_token=ADMIN) as gw:
        auth = {"authorization": f"Bearer {ADMIN}"}
        team = httpx.post(gw.url + "/admin/teams", headers=auth, json={
            "name": "frugal", "limits": {"daily_usd": 0.0002, "soft_limit_ratio": 0.5}})
        assert team.status_code in (200, 201), team.text
        key = httpx.post(gw.url + "/admin/keys", headers=auth,
                         json={"team": "frugal"}).json()["key"]

        def ask() -> httpx.Response:
            return httpx.post(gw.v1 + "/chat/completions", headers={
                "authorization": f"Bearer {key}", "x-paid": "yes"}, json={
                "model": "auto", "max_tokens": 20,
                "messages": [{"role": "user", "content": "hello, how are things?"}]})

        seen = [ask() for _ in range(40)]
        models = [r.headers.get("x-junction-model") for r in seen if r.status_code == 200]
        assert models[0] == "api"  # under the soft limit: the better (external) model
        assert "local" in models  # above it: kept on local models
        assert models.index("local") > 0
        assert all(m == "local" for m in models[models.index("local"):])
        refused = [r for r in seen if r.status_code == 429]
        assert refused, [r.status_code for r in seen]
        error = refused[0].json()["error"]
        assert error["code"] == "budget_exceeded"
        assert "resets" in error["message"] or "reset" in error["message"]
        assert int(refused[0].headers["retry-after"]) > 0
        explained = httpx.post(gw.v1 + "/route/explain", headers={
            "authorization": f"Bearer {key}", "x-paid": "yes"}, json={
            "model": "auto", "messages": [{"role": "user", "content": "hi"}]}).json()
        api = next(c for c in explained["candidates"] if c["model"] == "api")
        assert "soft limit" in api["reason"]
