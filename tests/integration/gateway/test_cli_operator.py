"""An operator's first hour with the `junction` command, run as a subprocess from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]
NO_KEYS = {k: v for k, v in os.environ.items()
           if k not in {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"}
           and not k.startswith("JUNCTION_")}


def junction(*args: str, cwd: Path, env: dict[str, str] | None = None,
             **kwargs: object) -> subprocess.CompletedProcess[str]:
    environ = {**NO_KEYS, "PYTHONPATH": str(ROOT), **(env or {})}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "router.cli", *args], text=True, timeout=120,
                          cwd=cwd, env=environ, **streams)  # type: ignore[call-overload]


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.json"
    path.write_text(json.dumps({"model": "auto", "messages": [
        {"role": "user", "content": "hi"}]}))
    return path


def test_route_explain_from_anywhere_marks_models_without_keys_unavailable(
    tmp_path: Path, hello: Path
) -> None:
    result = junction("route", "explain", str(hello), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    reasons = {c["model"]: c["reason"] for c in data["candidates"]}
    assert reasons["gpt-4o-mini"] == "unavailable: API key variable OPENAI_API_KEY is not set"
    assert reasons["qwen-local"] == "eligible"
    with_key = junction("route", "explain", str(hello), cwd=tmp_path,
                        env={"OPENAI_API_KEY": "sk-x"})
    data = json.loads(with_key.stdout)
    assert data["attempt_order"] == ["qwen-local", "gpt-4o-mini", "gpt-4o"]


def test_route_explain_into_a_closed_pipe_prints_no_traceback(
    tmp_path: Path, hello: Path
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `| head` does once it has its lines
    try:
        result = junction("route", "explain", str(hello), cwd=tmp_path, stdout=write_end,
                          stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 0


def test_policy_check_of_every_example_passes_with_nothing_set(tmp_path: Path) -> None:
    files = sorted(str(p) for p in (ROOT / "policies").rglob("*.yaml")
                   if "quality" not in p.parts)
    result = junction("policy", "check", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok: ") == len(files)


def test_serve_without_config_from_another_directory(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--port", str(port)], cwd=tmp_path,
        env={**NO_KEYS, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        models = _wait_json(f"http://127.0.0.1:{port}/v1/models", proc)
        assert {"auto", "qwen-local", "gpt-4o-mini", "default"} <= {m["id"] for m in models["data"]}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "cannot read policy file" not in out
    assert "model gpt-4o-mini is unavailable: API key variable OPENAI_API_KEY is not set" in out


def test_demo_from_another_directory_says_what_it_is_doing(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "demo", "--port", str(port)], cwd=tmp_path,
        env={**NO_KEYS, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_json(f"http://127.0.0.1:{port}/health/ready", proc)
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", timeout=30, json={
            "model": "auto", "messages": [{"role": "user", "content": "Hello!"}]})
        assert answer.status_code == 200 and answer.headers["x-junction-model"] == "qwen-local"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "cannot read policy file" not in out
    lines = out.splitlines()
    progress = [line for line in lines if line.startswith("junction demo: ")]
    assert len(progress) >= 3, out
    assert any("emulated" in line for line in progress), out


def _wait_json(url: str, proc: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                data: dict[str, object] = r.json()
                return data
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered 200"
        time.sleep(0.2)
