"""The dashboard's admin API on a real gateway with its records in SQLite: the request log with
filters and paging, one request's decision and attempts, summaries, roles and bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from bench.dashboard_records import fill, synthetic_records
from router.store.database import Database, database_url
from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, running_gateway

VIEWER = "viewer-token-0123456789"
ADMIN = "admin-token-0123456789ab"
TOKENS = [{"name": "dashboard", "token": VIEWER, "role": "viewer"},
          {"name": "platform", "token": ADMIN, "role": "admin"}]
EMAIL = "Please write to jane.doe@example.com about the invoice."


@pytest.fixture
def gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    text = policy_text(vllm_url, api_url) + "reporting: {reference_model: api}\n"
    with running_gateway(text, tmp_path, ENV, admin_tokens=TOKENS) as gw:
        yield gw


def get(gw: Gateway, path: str, token: str | None = VIEWER, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(gw.url + path, params=params, headers=headers, timeout=30)


def wait_for_records(gw: Gateway, count: int, deadline_s: float = 10.0) -> list[dict[str, Any]]:
    """The records once the writer has stored `count` of them (it writes in batches)."""
    deadline = time.monotonic() + deadline_s
    while True:
        rows: list[dict[str, Any]] = get(gw, "/admin/requests", limit=500).json()["data"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def serve_some(gw: Gateway) -> None:
    client = openai.OpenAI(base_url=gw.v1, api_key="unused", max_retries=0)
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": EMAIL}])
    # Naming the external model for sensitive content: refused by the policy, 403.
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="api",
                                       messages=[{"role": "user", "content": EMAIL}])


def test_served_and_refused_requests_are_in_the_log_with_their_decision(gateway: Gateway
                                                                        ) -> None:
    serve_some(gateway)
    rows = wait_for_records(gateway, 3)
    assert len(rows) == 3
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    by_status = {r["status"]: r for r in rows}
    assert set(by_status) == {200, 403}
    refused = by_status[403]
    assert refused["answered_by"] is None and refused["sensitivity"] != "none"
    sensitive_served = [r for r in rows if r["status"] == 200 and r["sensitivity"] != "none"]
    assert len(sensitive_served) == 1
    assert sensitive_served[0]["answered_by"] == "local"
    assert sensitive_served[0]["answered_local"] is True
    assert sensitive_served[0]["sent_external"] is False

    detail = get(gateway, f"/admin/requests/{refused['request_id']}").json()
    record = detail["record"]
    assert record["decision"]["rejection"] == "sensitive_data_external_model"
    assert record["attempts"] == [] and record["policy_version"] == 1
    assert detail["content_logged"] is False and record["prompt"] is None
    served = get(gateway, f"/admin/requests/{sensitive_served[0]['request_id']}").json()
    assert [a["model"] for a in served["record"]["attempts"]] == ["local"]
    assert served["record"]["decision"]["candidates"][0]["model"] == "local"
    assert served["record"]["classification"]["findings"]


def refused_route(rows: list[dict[str, Any]]) -> str:
    route: str = next(r["route"] for r in rows if r["status"] == 403)
    assert route not in ("default", "sensitive")
    return route


def test_filters_narrow_the_log_and_the_summary_counts_agree(gateway: Gateway) -> None:
    serve_some(gateway)
    rows = wait_for_records(gateway, 3)
    sensitive = [r for r in rows if r["sensitivity"] != "none"]
    got = get(gateway, "/admin/requests", sensitivity=sensitive[0]["sensitivity"]).json()["data"]
    assert {r["request_id"] for r in got} == {r["request_id"] for r in sensitive}
    assert get(gateway, "/admin/requests", status="4xx").json()["data"][0]["status"] == 403
    assert get(gateway, "/admin/requests", route="no-such-route").json()["data"] == []

    summary = get(gateway, "/admin/summary", since=time.time() - 3600).json()
    totals = summary["groups"][0]["measures"]
    assert totals["requests"] == 3 and totals["sensitive"] == 2
    assert totals["sensitive_local"] == 1 and totals["sensitive_refused"] == 1
    assert totals["sensitive_sent_external"] == 0
    routes = get(gateway, "/admin/summary", group_by="route", since=time.time() - 3600).json()
    per_route = {g["key"]["route"]: g["measures"]["requests"] for g in routes["groups"]}
    assert per_route == {"default": 1, "sensitive": 1, refused_route(rows): 1}


def test_paging_walks_every_record_once_newest_first(gateway: Gateway, tmp_path: Path) -> None:
    db = Database(database_url(None, gateway.app.state.settings.data_dir))
    records = synthetic_records(1234, 3600)

    async def insert() -> None:
        try:
            await fill(db, records)
        finally:
            await db.aclose()

    asyncio.run(insert())
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, "task": "code"}
        if cursor:
            params["cursor"] = cursor
        page = get(gateway, "/admin/requests", **params).json()
        seen += [r["request_id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted((r for r in records if r.task.value == "code"),
                      key=lambda r: (r.time, r.request_id), reverse=True)
    assert seen == [r.request_id for r in expected]

    summary = get(gateway, "/admin/summary", group_by="task,sensitivity",
                  since=time.time() - 7200).json()
    counted = {(g["key"]["task"], g["key"]["sensitivity"]): g["measures"]["requests"]
               for g in summary["groups"]}
    for (task, level), n in counted.items():
        assert n == sum(1 for r in records if r.task.value == task
                        and r.classification.sensitivity.value == level)
    over_time = get(gateway, "/admin/summary", group_by="time", since=time.time() - 3600,
                    step=600).json()
    buckets = over_time["groups"]
    assert over_time["step_s"] == 600 and 6 <= len(buckets) <= 7
    assert sum(g["measures"]["requests"] for g in buckets) <= len(records)
    assert all(b["key"]["time"] < a["key"]["time"] for b, a in pairwise(buckets))


@pytest.mark.parametrize(("params", "param"), [
    ({"group_by": "colour"}, "group_by"),
    ({"status": "teapot"}, "status"),
    ({"limit": 100000}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"group_by": "time", "step": 1}, "step"),
])
def test_bad_queries_are_clear_errors_in_the_api_shape(gateway: Gateway, params: dict[str, Any],
                                                      param: str) -> None:
    path = "/admin/summary" if "group_by" in params else "/admin/requests"
    r = get(gateway, path, **params)
    assert r.status_code in (400, 422), r.text
    # FastAPI's own validation names the query part: "query.limit".
    assert r.json()["error"]["param"] in (param, f"query.{param}")


def test_the_log_needs_an_admin_token_and_is_in_the_openapi_description(gateway: Gateway
                                                                        ) -> None:
    assert get(gateway, "/admin/requests", token=None).status_code == 401
    assert get(gateway, "/admin/requests", token="not-a-token-0123456789").status_code == 401
    assert get(gateway, "/admin/requests/nope").status_code == 404
    paths = httpx.get(gateway.url + "/openapi.json", timeout=10).json()["paths"]
    assert {"/admin/requests", "/admin/requests/{request_id}", "/admin/summary"} <= set(paths)


def test_content_appears_only_where_the_operator_turned_content_logging_on(
        vllm_url: str, api_url: str, tmp_path: Path) -> None:
    text = policy_text(vllm_url, api_url)
    with running_gateway(text, tmp_path, ENV, admin_tokens=TOKENS, log_content=True) as gw:
        client = openai.OpenAI(base_url=gw.v1, api_key="unused", max_retries=0)
        client.chat.completions.create(model="auto",
                                       messages=[{"role": "user", "content": "logged words"}])
        [row] = wait_for_records(gw, 1)
        detail = get(gw, f"/admin/requests/{row['request_id']}").json()
        assert detail["content_logged"] is True
        assert "logged words" in detail["record"]["prompt"]


def test_pages_take_the_bearer_header_send_a_csp_and_send_browsers_to_sign_in(
        gateway: Gateway) -> None:
    serve_some(gateway)
    wait_for_records(gateway, 3)
    for page in ("traffic", "money", "speed", "protection", "quality", "requests"):
        r = get(gateway, f"/dashboard/{page}")
        assert r.status_code == 200, (page, r.text)
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["content-type"].startswith("text/html")
    anonymous = httpx.get(gateway.url + "/dashboard/money", timeout=10)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/dashboard/sign-in"
    wrong = get(gateway, "/dashboard/money", token="not-a-token-0123456789")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_token"
    signed = httpx.post(gateway.url + "/dashboard/sign-in", data={"token": VIEWER}, timeout=10)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
    assert "max-age=28800" in cookie
    assert get(gateway, "/dashboard/nowhere").status_code == 404


def test_money_shows_spend_per_team_and_key_against_their_budgets(gateway: Gateway) -> None:
    admin = {"authorization": f"Bearer {ADMIN}"}
    team = httpx.post(gateway.url + "/admin/teams", headers=admin, timeout=10, json={
        "name": "acme", "limits": {"daily_usd": 5.0}})
    assert team.status_code == 201, team.text
    created = httpx.post(gateway.url + "/admin/keys", headers=admin, timeout=10, json={
        "team": "acme", "limits": {"monthly_usd": 2.0}})
    assert created.status_code == 201, created.text
    key_id = created.json()["key_id"]
    client = openai.OpenAI(base_url=gateway.v1, api_key=created.json()["key"], max_retries=0)
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    wait_for_records(gateway, 1)
    page = get(gateway, "/dashboard/money?range=1h").text
    assert "<td>team acme</td><td>day</td>" in page
    assert f"<td>key {key_id}</td><td>month</td>" in page
    assert f"<td>{key_id}</td><td>1</td>" in page  # the key's row in spend per key
    assert "$5.0000" in page and "$2.0000" in page
