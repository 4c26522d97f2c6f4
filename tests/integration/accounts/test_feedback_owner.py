"""Only the caller who made a request (its key, its team, or the admin) may rate it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from junction_emulate import EmulatorBehaviour, create_openai_app, run_in_thread
from tests.integration.accounts.gateways import ADMIN, api_policy
from tests.support.gateway import Gateway, running_gateway


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    behaviour = EmulatorBehaviour(models=("api-small",), api_key="sk-test-api")
    with run_in_thread(create_openai_app(behaviour)) as url:
        yield url


@pytest.fixture
def gateway(api: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(api_policy(api), tmp_path, {"TEST_API_KEY": "sk-test-api"},
                         admin_token=ADMIN) as gw:
        yield gw


def new_key(gw: Gateway, team: str) -> str:
    auth = {"authorization": f"Bearer {ADMIN}"}
    httpx.post(gw.url + "/admin/teams", json={"name": team}, headers=auth, timeout=10)
    r = httpx.post(gw.url + "/admin/keys", json={"team": team}, headers=auth, timeout=10)
    assert r.status_code in (200, 201), r.text
    return str(r.json()["key"])


def served(gw: Gateway, key: str) -> str:
    client = openai.OpenAI(base_url=gw.v1, api_key=key, max_retries=0)
    completion = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Say hello."}])
    assert completion._request_id
    return completion._request_id


def rate(gw: Gateway, request_id: str, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return httpx.post(gw.v1 + "/feedback", json={"request_id": request_id, "thumbs": "up"},
                      headers=headers, timeout=10)


def test_only_the_key_its_team_or_the_admin_may_rate_a_request(gateway: Gateway) -> None:
    mine, teammate = new_key(gateway, "alpha"), new_key(gateway, "alpha")
    stranger = new_key(gateway, "beta")
    request_id = served(gateway, mine)
    before = gateway.app.state.stats.quality_book.quality("chat", "api")

    # Labels, not secrets, in failure messages.
    others = {"other team's key": stranger, "no key": None, "not a key": "not-a-junction-key"}
    for who, token in others.items():
        refused = rate(gateway, request_id, token)
        assert refused.status_code == 404, (who, refused.text)
        error = refused.json()["error"]
        assert error["param"] == "request_id" and error["type"] == "not_found_error"
        # The same answer as for an id that never existed: nothing to learn from it.
        unknown = rate(gateway, "jr-" + "0" * 32, token).json()["error"]["message"]
        assert error["message"] == unknown.replace("jr-" + "0" * 32, request_id)
    # Refused votes moved nothing.
    assert gateway.app.state.stats.quality_book.quality("chat", "api") == before

    for who, token in {"same key": mine, "same team": teammate, "admin": ADMIN}.items():
        accepted = rate(gateway, request_id, token)
        assert accepted.status_code == 200, (who, accepted.text)
        assert accepted.json()["accepted"] is True


def test_a_keyless_request_is_rated_only_by_keyless_callers_or_the_admin(
    gateway: Gateway,
) -> None:
    key = new_key(gateway, "gamma")
    request_id = served(gateway, "sk-anything")  # not a jk- key: anonymous
    assert rate(gateway, request_id, key).status_code == 404
    assert rate(gateway, request_id, None).status_code == 200
    assert rate(gateway, request_id, "sk-someone-else").status_code == 200
    assert rate(gateway, request_id, ADMIN).status_code == 200
