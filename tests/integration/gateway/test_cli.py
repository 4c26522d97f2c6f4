"""The `junction` command as an operator runs it: serve, policy check, route explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]


def junction(*args: str, env: dict[str, str] | None = None, timeout: float = 60
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args], capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})},
    )


def test_policy_check_ok_and_errors(tmp_path: Path) -> None:
    ok = junction("policy", "check", "policies/default.yaml", "policies/examples/api-only.yaml",
                  env={"JUNCTION_LOCAL_URL": "http://h:1", "JUNCTION_LOCAL_MODEL": "m"})
    assert ok.returncode == 0, ok.stderr
    assert "ok: policies/default.yaml" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  m:\n    backend: nope\n    model: x\nroutes: []\n")
    result = junction("policy", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: models.m.backend" in result.stderr


def test_policy_check_warns_about_dead_routes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("""
models:
  m: {backend: local, model: x, endpoints: ["http://127.0.0.1:1"]}
routes:
  - {name: all, candidates: [m]}
  - {name: never, match: {task: [code]}, candidates: [m]}
""")
    result = junction("policy", "check", str(path))
    assert result.returncode == 0
    assert "route 'never' can never match" in result.stderr


def test_policy_check_warns_about_old_key_names(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("""
models:
  m: {backend: local, model: x, endpoints: ["http://127.0.0.1:1"]}
routes:
  - {name: all, candidates: [m], explore: 0.1}
""")
    result = junction("policy", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"warning: {path}: line 5: routes[0].explore is the old name of 'explore_share'" \
        in result.stderr


def test_route_explain_offline(tmp_path: Path) -> None:
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "auto", "messages": [
        {"role": "user", "content": "Write a Python function that merges two sorted lists"}]}))
    result = junction("route", "explain", "--config", "policies/default.yaml", str(request))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["classification"]["task"] == "code"
    assert data["choice"] in {"qwen-local", "claude-sonnet", "gpt-4o"}
    assert all("reason" in c for c in data["candidates"])


def test_route_explain_reads_junction_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("""
models:
  only-here: {backend: local, model: x, endpoints: ["http://127.0.0.1:1"]}
routes:
  - {name: mine, candidates: [only-here]}
""")
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "auto", "messages": [
        {"role": "user", "content": "hello"}]}))
    result = junction("route", "explain", str(request), env={"JUNCTION_POLICY_FILE": str(policy)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["route"], data["choice"]) == ("mine", "only-here")


def test_serve_refuses_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {}\nroutes: []\n")
    result = junction("serve", "--config", str(bad), "--port", str(free_port()))
    assert result.returncode == 2
    assert "cannot start" in result.stderr and "bad.yaml" in result.stderr
    missing = junction("serve", "--config", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read policy file" in missing.stderr


def test_serve_runs_and_flags_override(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config",
         "policies/examples/local-only.yaml", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "JUNCTION_LOCAL_URL": "http://127.0.0.1:9",
                       "JUNCTION_LOCAL_MODEL": "m", "JUNCTION_PORT": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert {m["id"] for m in r.json()["data"]} >= {"auto", "local", "everything"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_demo_answers_with_the_openai_client() -> None:
    import openai

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", str(port)], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="demo",
                               max_retries=0, timeout=10)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "demo did not start"
                time.sleep(0.3)
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Hello!"}])
        assert "emulated" in (raw.parse().choices[0].message.content or "")
        assert raw.headers["x-junction-model"] == "qwen-local"
        hard = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content":
                "Prove rigorously, step by step, that there are infinitely many primes "
                "of the form 4k+3, and analyse the complexity of a sieve that finds them."}])
        assert hard.headers["x-junction-route"] == "hard", hard.headers
        assert hard.headers["x-junction-model"] in {"claude-sonnet", "gpt-4o"}
        chunks = list(client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "stream it"}],
            stream=True))
        assert "emulated" in "".join(c.choices[0].delta.content or "" for c in chunks
                                     if c.choices)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        assert proc.stdout is not None
        proc.stdout.close()


def test_local_profiles_work_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "local", "profiles"], capture_output=True,
        text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "qwen35-35b-fp8-h100" in result.stdout
    dry = subprocess.run(
        [sys.executable, "-m", "router.cli", "local", "launch", "--profile",
         "qwen35-35b-bf16-2xh100", "--dry-run"], capture_output=True, text=True, timeout=60,
        cwd=tmp_path,
    )
    assert dry.returncode == 0, dry.stderr
    assert "--tensor-parallel-size 2" in dry.stdout
