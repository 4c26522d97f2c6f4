"""The policy admin API on a real gateway: versions, validation, diff, activation (with
If-Match), rollback, roles and the audit log; requests in flight finish on the old policy."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.gateway.conftest import ENV, policy_text
from tests.support.gateway import Gateway, emulator_config, running_gateway

VIEWER = "viewer-token-0123456789"
EDITOR = "editor-token-0123456789"
ADMIN = "admin-token-0123456789ab"
SINGLE = "single-admin-token-0123456789"
TOKENS = [{"name": "dashboard", "token": VIEWER, "role": "viewer"},
          {"name": "ci", "token": EDITOR, "role": "editor"},
          {"name": "platform", "token": ADMIN, "role": "admin"}]


def default_to(seed: str, model: str) -> str:
    """The seed with its default route sent to `model` instead."""
    old = "  - name: default\n    candidates: [local]\n"
    assert old in seed
    return seed.replace(old, f"  - name: default\n    candidates: [{model}]\n")


def only(text: str, model: str) -> str:
    """The test policy with its default route narrowed to one model."""
    return text.replace("candidates: [local, api]\n    objective: min_cost",
                        f"candidates: [{model}]")


@pytest.fixture
def seed(vllm_url: str, api_url: str) -> str:
    return only(policy_text(vllm_url, api_url), "local")


@pytest.fixture
def gateway(seed: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(seed, tmp_path, ENV, admin_tokens=TOKENS, admin_token=SINGLE) as gw:
        yield gw


def call(gw: Gateway, method: str, path: str, token: str = ADMIN, **kwargs: Any
         ) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers={
        "authorization": f"Bearer {token}", **kwargs.pop("headers", {})}, timeout=30, **kwargs)


def chat_model(gw: Gateway) -> str:
    r = httpx.post(gw.url + "/v1/chat/completions", timeout=30, json={
        "model": "auto", "messages": [{"role": "user", "content": "hello there"}]})
    assert r.status_code == 200, r.text
    return r.headers["x-junction-model"]


def test_the_policy_file_is_version_1_and_active(gateway: Gateway, seed: str) -> None:
    r = call(gateway, "GET", "/admin/policy", VIEWER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["yaml"], body["created_by"], body["active"]) == (1, seed, "seed",
                                                                              True)
    assert body["activated_by"] == "seed" and len(body["hash"]) == 64


def test_an_invalid_version_is_422_with_every_error_and_is_not_stored(gateway: Gateway,
                                                                      seed: str) -> None:
    bad = seed.replace("backend: openai", "backend: opneai").replace(
        "context_window: 32768", "context_window: -5")
    r = call(gateway, "POST", "/admin/policy/versions", EDITOR, json={"yaml": bad})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_policy" and error["param"] == "yaml"
    errors = error["junction"]["errors"]
    assert len(errors) == 2
    assert any("policy:13: models.api.backend" in e and "'opneai'" in e for e in errors), errors
    assert any("policy:9: models.local.context_window" in e for e in errors), errors
    versions = call(gateway, "GET", "/admin/policy/versions", VIEWER).json()["data"]
    assert [v["id"] for v in versions] == [1]


def test_store_diff_activate_with_if_match_then_roll_back(gateway: Gateway, seed: str) -> None:
    assert chat_model(gateway) == "local"
    r = call(gateway, "POST", "/admin/policy/versions", EDITOR,
             json={"yaml": default_to(seed, "api"), "comment": "move default to the API"})
    assert r.status_code == 201, r.text
    pushed = r.json()
    assert (pushed["id"], pushed["active"], pushed["created_by"]) == (2, False, "ci")
    assert chat_model(gateway) == "local"  # stored, not active

    diff = call(gateway, "GET", "/admin/policy/versions/2/diff", VIEWER,
                params={"against": 1}).json()["diff"]
    assert "-    candidates: [local]\n+    candidates: [api]\n" in diff

    stale = call(gateway, "POST", "/admin/policy/versions/2/activate",
                 headers={"if-match": "0" * 64})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "policy_changed"
    assert chat_model(gateway) == "local"

    active_hash = call(gateway, "GET", "/admin/policy", VIEWER).json()["hash"]
    r = call(gateway, "POST", "/admin/policy/versions/2/activate",
             headers={"if-match": f'"{active_hash}"'})
    assert r.status_code == 200, r.text
    assert r.json()["activated_by"] == "platform"
    assert chat_model(gateway) == "api"

    r = call(gateway, "POST", "/admin/policy/rollback", SINGLE)
    assert r.status_code == 200 and r.json()["id"] == 1
    assert chat_model(gateway) == "local"
    active = call(gateway, "GET", "/admin/policy", VIEWER).json()
    assert (active["id"], active["activated_by"]) == (1, "admin")

    audit = call(gateway, "GET", "/admin/audit", VIEWER).json()["data"]
    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(audit)]
    assert seen == [("seed", "policy.activate", "policy:1"),
                    ("ci", "policy.create", "policy:2"),
                    ("platform", "policy.activate", "policy:2"),
                    ("admin", "policy.activate", "policy:1")]
    assert audit[0]["before"]["id"] == 2 and audit[0]["after"]["id"] == 1


def test_roles_limit_what_each_token_may_do(gateway: Gateway, seed: str) -> None:
    push = {"yaml": seed, "comment": "same again"}
    assert call(gateway, "POST", "/admin/policy/versions", VIEWER, json=push).status_code == 403
    r = call(gateway, "POST", "/admin/policy/versions", EDITOR, json=push)
    assert r.status_code == 201
    r = call(gateway, "POST", "/admin/policy/versions/2/activate", EDITOR)
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "role_forbidden"
    assert "needs role admin" in error["message"] and "'ci' has role editor" in error["message"]
    assert call(gateway, "POST", "/admin/teams", EDITOR, json={"name": "t"}).status_code == 403
    assert call(gateway, "GET", "/admin/teams", VIEWER).status_code == 200
    assert call(gateway, "GET", "/admin/policy", "not-a-token").status_code == 401


def test_key_and_team_changes_are_audited_without_secrets(gateway: Gateway) -> None:
    assert call(gateway, "POST", "/admin/teams", json={"name": "acme"}).status_code == 201
    created = call(gateway, "POST", "/admin/keys", json={"team": "acme"}).json()
    call(gateway, "DELETE", f"/admin/keys/{created['key_id']}")
    r = call(gateway, "PATCH", "/admin/teams/acme", json={"limits": {"daily_usd": 5}})
    assert r.status_code == 200, r.text
    audit = call(gateway, "GET", "/admin/audit", VIEWER).json()["data"]
    actions = [(e["actor"], e["action"]) for e in reversed(audit) if e["actor"] != "seed"]
    assert actions == [("platform", "team.create"), ("platform", "key.create"),
                       ("platform", "key.revoke"), ("platform", "team.update")]
    revoke = next(e for e in audit if e["action"] == "key.revoke")
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"]
    update = next(e for e in audit if e["action"] == "team.update")
    assert update["before"]["limits"]["daily_usd"] is None
    assert update["after"]["limits"]["daily_usd"] == 5
    text = json.dumps(audit)
    assert created["key"] not in text and "key_hash" not in text


def test_a_request_in_flight_finishes_on_the_policy_it_started_on(
    gateway: Gateway, seed: str, vllm_url: str
) -> None:
    pushed = call(gateway, "POST", "/admin/policy/versions", EDITOR,
                  json={"yaml": default_to(seed, "api")})
    assert pushed.status_code == 201, pushed.text
    # The local model streams slowly: the activation lands while the stream is open.
    emulator_config(vllm_url, tps=20.0, completion_tokens=60)  # about 3 s of stream
    started, chunks = threading.Event(), list[str]()
    headers: dict[str, str] = {}

    def stream() -> None:
        with httpx.stream("POST", gateway.url + "/v1/chat/completions", timeout=60, json={
                "model": "auto", "stream": True,
                "messages": [{"role": "user", "content": "hello there"}]}) as r:
            headers.update(r.headers)
            for line in r.iter_lines():
                started.set()
                chunks.append(line)

    thread = threading.Thread(target=stream)
    thread.start()
    assert started.wait(30)
    activated = call(gateway, "POST", f"/admin/policy/versions/{pushed.json()['id']}/activate")
    assert activated.status_code == 200, activated.text
    assert thread.is_alive()  # the activation landed mid-stream
    thread.join(60)
    assert headers["x-junction-model"] == "local"
    chunks = [c for c in chunks if c]
    assert chunks[-1] == "data: [DONE]"
    assert not any('"error"' in c for c in chunks)
    emulator_config(vllm_url, tps=0.0, completion_tokens=12)
    assert chat_model(gateway) == "api"


def test_the_policy_commands_drive_the_api(gateway: Gateway, seed: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    def junction(*args: str, token: str = ADMIN) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "router.cli", "policy", *args, "--url", gateway.url,
             "--token", token], capture_output=True, text=True, timeout=120, check=False)

    path = tmp_path / "candidate.yaml"
    path.write_text(default_to(seed, "api"))
    done = junction("push", str(path), "--comment", "to the API", "--activate")
    assert done.returncode == 0, done.stderr
    assert "stored version 2" in done.stdout and "activated version 2" in done.stdout
    assert chat_model(gateway) == "api"

    history = junction("history", token=VIEWER)
    assert history.returncode == 0, history.stderr
    lines = history.stdout.splitlines()
    assert lines[0].startswith("     1 ") and "seed" in lines[0]
    assert lines[1].startswith("*    2 ") and "platform" in lines[1] and "to the API" in lines[1]

    assert junction("rollback").returncode == 0
    assert chat_model(gateway) == "local"

    path.write_text(seed.replace("backend: local", "backend: nowhere"))
    bad = junction("push", str(path))
    assert bad.returncode == 1
    assert "422 invalid_policy" in bad.stderr and "models.local.backend" in bad.stderr
    refused = junction("rollback", token=EDITOR)
    assert refused.returncode == 1 and "role_forbidden" in refused.stderr


def test_what_if_replays_recorded_requests_against_what_was_decided(
    gateway: Gateway, seed: str
) -> None:
    assert call(gateway, "POST", "/admin/teams",
                json={"name": "acme", "allowed_models": ["local"]}).status_code == 201
    key = call(gateway, "POST", "/admin/keys", json={"team": "acme"}).json()["key"]

    def send(content: str, token: str | None = None) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        r = httpx.post(gateway.url + "/v1/chat/completions", headers=headers, timeout=30,
                       json={"model": "auto", "messages": [{"role": "user",
                                                            "content": content}]})
        assert r.status_code == 200, r.text

    for _ in range(4):
        send("hello there")
    for _ in range(3):
        send("hello there", key)
    for _ in range(2):
        send("please write to jane.doe@example.com about the invoice")

    def whatif(**body: Any) -> dict[str, Any]:
        r = call(gateway, "POST", "/admin/policy/whatif", EDITOR, json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    deadline = time.monotonic() + 20
    while whatif(version_id=1)["requests"] < 9:  # records reach the database in batches
        assert time.monotonic() < deadline, "records were not written"
    same = whatif(version_id=1)
    assert same["routes"]["before"] == same["routes"]["after"] == {"default": 7, "sensitive": 2}
    assert same["newly_rejected"]["count"] == 0
    assert same["sensitive_candidates_changed"]["count"] == 0

    candidate = default_to(seed, "api").replace(
        "    match: {sensitivity: [pii, confidential, secret]}\n    candidates: [local]",
        "    match: {sensitivity: [pii, confidential, secret]}\n    candidates: [api]")
    result = whatif(yaml=candidate)
    assert result["version_id"] is None and result["requests"] == 9
    assert result["models"]["before"] == {"local": 9}
    assert result["models"]["after"] == {"api": 4, "(none)": 5}
    # The team may only use local (3), and personal data may not leave for the API (2).
    assert result["newly_rejected"]["by_code"] == {"no_model_available": 3,
                                                   "no_local_model_available": 2}
    changed = result["sensitive_candidates_changed"]
    assert changed["count"] == 2
    assert changed["requests"][0]["before"] == ["local"]
    assert changed["requests"][0]["after"] == []
    assert result["cost_usd"]["after"] != result["cost_usd"]["before"]

    bad = call(gateway, "POST", "/admin/policy/whatif", EDITOR, json={"yaml": "models: 3"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_policy"
    both = call(gateway, "POST", "/admin/policy/whatif", EDITOR,
                json={"yaml": seed, "version_id": 1})
    assert both.status_code == 400 and "exactly one" in both.json()["error"]["message"]
    assert call(gateway, "POST", "/admin/policy/whatif", VIEWER,
                json={"version_id": 1}).status_code == 403


def test_the_openapi_description_lists_the_policy_routes_with_schemas(gateway: Gateway) -> None:
    spec = httpx.get(gateway.url + "/openapi.json", timeout=10).json()
    paths = spec["paths"]
    expected = {
        ("/admin/policy", "get"), ("/admin/policy/versions", "get"),
        ("/admin/policy/versions", "post"), ("/admin/policy/versions/{version_id}", "get"),
        ("/admin/policy/versions/{version_id}/diff", "get"),
        ("/admin/policy/versions/{version_id}/activate", "post"),
        ("/admin/policy/rollback", "post"), ("/admin/policy/whatif", "post"),
        ("/admin/audit", "get"),
    }
    for path, method in expected:
        assert method in paths.get(path, {}), (path, method)
        assert "200" in paths[path][method]["responses"] or "201" in paths[path][method][
            "responses"]
    schemas = spec["components"]["schemas"]
    assert {"PolicyPush", "PolicyVersionOut", "WhatIfRequest", "WhatIfResult",
            "AuditList"} <= set(schemas)


def test_a_version_that_cannot_be_built_leaves_the_old_one_serving(gateway: Gateway,
                                                                   seed: str) -> None:
    broken = seed.replace(
        "  - name: default\n    candidates: [local]\n",
        "  - name: default\n    candidates: [local, api]\n"
        "    scorer: {path: no-such-router, strong: api, weak: local}\n")
    pushed = call(gateway, "POST", "/admin/policy/versions", EDITOR, json={"yaml": broken})
    assert pushed.status_code == 201, pushed.text  # the text is valid; the scorer is missing
    r = call(gateway, "POST", f"/admin/policy/versions/{pushed.json()['id']}/activate")
    assert r.status_code == 422, r.text
    assert "cannot load prompt scorer" in r.json()["error"]["message"]
    active = call(gateway, "GET", "/admin/policy", VIEWER).json()
    assert active["id"] == 1
    assert chat_model(gateway) == "local"
    actions = [e["action"] for e in call(gateway, "GET", "/admin/audit", VIEWER).json()["data"]]
    assert actions.count("policy.activate") == 1  # only the seed's


def test_a_restart_with_another_file_serves_the_stored_version_and_says_so(
    seed: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "shared-data"
    with running_gateway(seed, tmp_path, ENV, data_dir=data) as first:
        assert chat_model(first) == "local"
    caplog.set_level("WARNING", logger="router.control.service")
    edited = seed.replace("candidates: [local]", "candidates: [api]")
    assert edited != seed
    with running_gateway(edited, tmp_path, ENV, data_dir=data) as second:
        assert chat_model(second) == "local"  # the stored version, not the edited file
    assert any("differs from the active stored version 1" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
