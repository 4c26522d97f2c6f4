"""What-if replays what the caller asked for and the budget pressure at admission: records keep
`requested_model` and `budget_used_share`, and a candidate whose budget rule or model names
differ shows the difference."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from router.stats.records import RequestRecord
from router.store.database import Database, database_url
from tests.integration.gateway.conftest import ENV, policy_text
from tests.integration.gateway.test_policy_admin import EDITOR, TOKENS
from tests.support.gateway import Gateway, running_gateway

ROUTES = """
  - name: paid
    match: {keys: [KEY_ID]}
    candidates: [api, local]
    objective: max_quality
    on_budget_soft_limit: ignore
"""
QUALITY = "quality:\n  chat: {local: 0.8, api: 0.8}\n"
ADMIN = "whatif-single-admin-token"
SOFT = 0.3


def stored(gw: Gateway) -> list[RequestRecord]:
    async def load() -> list[RequestRecord]:
        db = Database(database_url(None, gw.app.state.settings.data_dir))
        try:
            return await db.load_records()
        finally:
            await db.aclose()

    return asyncio.run(load())


def whatif(gw: Gateway, yaml: str) -> dict[str, Any]:
    r = httpx.post(gw.url + "/admin/policy/whatif", timeout=60,
                   headers={"authorization": f"Bearer {EDITOR}"}, json={"yaml": yaml})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_what_if_replays_the_requested_model_and_the_budget_pressure(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    base = policy_text(vllm_url, api_url, routes=ROUTES).replace(
        QUALITY, "quality:\n  chat: {local: 0.6, api: 0.9}\n")
    with running_gateway(base.replace("KEY_ID", "pending"), tmp_path, ENV, admin_token=ADMIN,
                         admin_tokens=TOKENS) as gw:
        admin = {"authorization": f"Bearer {ADMIN}"}
        assert httpx.post(gw.url + "/admin/teams", headers=admin, json={
            "name": "frugal", "limits": {"daily_usd": 0.00012, "soft_limit_ratio": SOFT}},
        ).status_code == 201
        created = httpx.post(gw.url + "/admin/keys", headers=admin,
                             json={"team": "frugal"}).json()
        # The route that serves the key, now that its id is known.
        seed = base.replace("KEY_ID", created["key_id"])
        version = httpx.post(gw.url + "/admin/policy/versions", headers=admin,
                             json={"yaml": seed}).json()["id"]
        assert httpx.post(f"{gw.url}/admin/policy/versions/{version}/activate",
                          headers=admin).status_code == 200

        def ask(model: str, key: str | None = None) -> httpx.Response:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            return httpx.post(gw.v1 + "/chat/completions", headers=headers, timeout=30, json={
                "model": model, "max_tokens": 20,
                "messages": [{"role": "user", "content": "hello, how are things?"}]})

        metered = [ask("auto", created["key"]) for _ in range(8)]
        assert all(r.status_code == 200 for r in metered), [r.text for r in metered]
        assert {r.headers["x-junction-model"] for r in metered} == {"api"}  # rule: ignore
        for model in ("api", "default", "auto"):
            assert ask(model).status_code == 200

        deadline = time.monotonic() + 20
        records = stored(gw)
        while len(records) < 11:  # records reach the database in batches
            assert time.monotonic() < deadline, f"{len(records)} of 11 records written"
            records = stored(gw)
        assert len(records) == 11
        requested = sorted(r.requested_model or "?" for r in records)
        assert requested == sorted(["auto"] * 9 + ["api", "default"])
        keyed = [r for r in records if r.key_id == created["key_id"]]
        shares = [r.budget_used_share for r in keyed]
        assert all(s is not None and 0 <= s <= 1 for s in shares), shares
        pressed = [r for r in keyed if (r.budget_used_share or 0) >= SOFT]
        assert 0 < len(pressed) < len(keyed), shares
        assert all(r.budget_used_share is None for r in records if r.key_id is None)

        same = whatif(gw, seed)
        assert same["models"]["after"] == same["models"]["before"]
        assert same["routes"]["after"] == same["routes"]["before"]

        # The budget rule differs: what was above the soft limit would have stayed local.
        local_only = whatif(gw, seed.replace("on_budget_soft_limit: ignore",
                                             "on_budget_soft_limit: local_only"))
        before, after = local_only["models"]["before"], local_only["models"]["after"]
        assert after.get("local", 0) - before.get("local", 0) == len(pressed)
        assert before["api"] - after["api"] == len(pressed)

        # The model names differ: a caller who asked for `api` by name would be refused.
        renamed = seed.replace("  api:\n", "  api-v2:\n").replace(
            "candidates: [api, local]", "candidates: [api-v2, local]").replace(
            "candidates: [local, api]", "candidates: [local, api-v2]").replace(
            "{local: 0.6, api: 0.9}", "{local: 0.6, api-v2: 0.9}")
        moved = whatif(gw, renamed)
        assert moved["newly_rejected"]["by_code"] == {"model_not_found": 1}
        assert moved["routes"]["after"]["(none)"] == 1
