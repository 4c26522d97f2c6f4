"""The admin API under uvicorn on loopback, driven over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from router.accounts import AccessService
from router.api import admin
from router.app import install_error_handlers
from router.errors import AuthenticationFailed
from router.settings import Settings
from tests.support.redis_server import free_port

TOKEN = "admin-secret-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _app(settings: Settings) -> FastAPI:
    """What the app factory does for this router: state, and errors mapped once."""
    app = FastAPI(title="Junction")
    app.include_router(admin.router)
    app.state.settings = settings
    app.state.access = AccessService.create(settings, None)

    install_error_handlers(app)  # the gateway's one mapping of exceptions to responses

    return app


def _serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def app() -> FastAPI:
    return _app(Settings(admin_token=SecretStr(TOKEN)))


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    for url in _serve(app):
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
def test_a_wrong_or_missing_admin_token_is_a_401(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    response = client.get("/admin/keys", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "invalid_admin_token"


def test_a_junction_key_is_not_an_admin_token(client: httpx.Client) -> None:
    client.post("/admin/teams", headers=ADMIN, json={"name": "acme"})
    secret = client.post("/admin/keys", headers=ADMIN, json={"team": "acme"}).json()["key"]
    response = client.get("/admin/teams", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_without_an_admin_token_configured_the_api_is_closed() -> None:
    for url in _serve(_app(Settings(admin_token=None))):
        response = httpx.get(f"{url}/admin/teams", headers=ADMIN)
        assert response.status_code == 403
        assert "JUNCTION_ADMIN_TOKEN" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/admin/teams", {"name": "acme", "limits": {"daily_usd": -1}}, "limits.daily_usd"),
        ("/admin/teams", {"name": "acme", "limits": {"dialy_usd": 5}}, "limits.dialy_usd"),
        ("/admin/teams", {"name": "no spaces"}, "name"),
        ("/admin/teams", {"name": "acme", "default_sensitivity": "top"}, "default_sensitivity"),
        ("/admin/keys", {}, "team"),
        ("/admin/keys", {"team": "acme", "expires_in_days": 0}, "expires_in_days"),
        (
            "/admin/keys",
            {"team": "acme", "expires_in_days": 3, "expires_at": "2099-01-01T00:00:00Z"},
            "expires_at",
        ),
    ],
)
def test_malformed_requests_are_422_naming_the_field(
    client: httpx.Client, path: str, body: dict[str, object], param: str
) -> None:
    response = client.post(path, headers=ADMIN, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param


def test_spend_needs_exactly_one_of_team_or_key(client: httpx.Client) -> None:
    for query in ({}, {"team": "acme", "key_id": "abcdefgh"}):
        response = client.get("/admin/spend", headers=ADMIN, params=query)
        # A rule across fields: 400, as feedback's "exactly one of score and thumbs".
        assert response.status_code == 400
        assert response.json()["error"]["param"] in ("team", "key_id")


def test_create_list_update_revoke(client: httpx.Client, app: FastAPI) -> None:
    access: AccessService = app.state.access
    team = {"name": "acme", "allowed_models": ["local"], "limits": {"daily_usd": 5}}
    created = client.post("/admin/teams", headers=ADMIN, json=team)
    assert created.status_code == 201
    assert created.json()["limits"]["daily_usd"] == 5
    again = client.post("/admin/teams", headers=ADMIN, json=team)
    assert again.status_code == 400 and again.json()["error"]["code"] == "team_exists"

    patched = client.patch("/admin/teams/acme", headers=ADMIN, json={"limits": {"monthly_usd": 50}})
    assert patched.status_code == 200
    limits = patched.json()["limits"]
    assert (limits["daily_usd"], limits["monthly_usd"]) == (5, 50)  # merged, not replaced
    assert client.patch("/admin/teams/nope", headers=ADMIN, json={}).status_code == 404
    assert [t["name"] for t in client.get("/admin/teams", headers=ADMIN).json()] == ["acme"]

    assert client.post("/admin/keys", headers=ADMIN, json={"team": "nope"}).status_code == 404
    made = client.post("/admin/keys", headers=ADMIN, json={"team": "acme", "name": "ci"})
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    key = made.json()
    secret, key_id = key["key"], key["key_id"]
    assert secret.startswith(f"jk-{key_id}-") and key["prefix"] == f"jk-{key_id}"
    assert key["status"] == "active" and key["expires_at"] is not None

    listing = client.get("/admin/keys", headers=ADMIN, params={"team": "acme"})
    assert [k["key_id"] for k in listing.json()] == [key_id]
    assert secret not in listing.text and "key_hash" not in listing.text
    assert "key" not in listing.json()[0]

    principal = asyncio.run(access.authenticate(f"Bearer {secret}"))
    assert principal.allowed_models == frozenset({"local"})
    spend = client.get("/admin/spend", headers=ADMIN, params={"key_id": key_id}).json()
    assert [(b["window"], b["spent_usd"]) for b in spend["budgets"]] == [("day", 0), ("month", 0)]
    team_spend = client.get("/admin/spend", headers=ADMIN, params={"team": "acme"}).json()
    assert team_spend["budgets"][0]["limit_usd"] == 5

    revoked = client.delete(f"/admin/keys/{key_id}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    with pytest.raises(AuthenticationFailed, match="revoked"):
        asyncio.run(access.authenticate(f"Bearer {secret}"))
    assert client.delete("/admin/keys/zzzzzzzz", headers=ADMIN).status_code == 404


def test_the_openapi_schema_describes_the_admin_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/admin/teams",
        "/admin/teams/{team}",
        "/admin/keys",
        "/admin/keys/{key_id}",
        "/admin/spend",
    } <= set(paths)
    create_key = paths["/admin/keys"]["post"]
    assert create_key["tags"] == ["admin"]
    assert "once" in create_key["summary"]
    assert create_key["security"] == [{"AdminToken": []}]
    assert "KeyCreate" in schema["components"]["schemas"]
