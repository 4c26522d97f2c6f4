"""Claude Code (`claude -p`) completes a prompt through the Messages door, offline.

Skipped when `claude` is not installed: `npm install @anthropic-ai/claude-code` into
`.claude-code/` at the repository root (ignored by git), or put `claude` on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from tests.support.gateway import emulator_requests, emulator_reset, running_gateway

ROOT = Path(__file__).resolve().parents[3]
LOCAL_CLAUDE = ROOT / ".claude-code" / "node_modules" / ".bin" / "claude"
CLAUDE = str(LOCAL_CLAUDE) if LOCAL_CLAUDE.exists() else shutil.which("claude")
ADMIN = "admin-for-claude-code"

pytestmark = pytest.mark.skipif(CLAUDE is None, reason="Claude Code (`claude`) is not installed; "
                                "npm install @anthropic-ai/claude-code into .claude-code/")


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=("qwen-test",)))) as url:
        yield url


@pytest.mark.parametrize("keyed", [True, False], ids=["junction-key", "keys-optional"])
def test_claude_code_completes_a_prompt_offline(vllm_url: str, tmp_path: Path,
                                                keyed: bool) -> None:
    policy = f"""
version: 1
models:
  local:
    backend: local
    model: qwen-test
    endpoints: ["{vllm_url}"]
    capabilities: [tools, vision, json_schema]
    context_window: 200000
routes:
  - name: default
    candidates: [local]
"""
    emulator_reset(vllm_url)
    # Keys optional (as in `junction demo`): any key that is not a Junction key (`jk-...`)
    # will do, and Claude Code must send one.
    accounts = {"admin_token": ADMIN, "accounts": {"require_key": True}} if keyed else {}
    with running_gateway(policy, tmp_path, {}, **accounts) as gw:
        key = "demo"
        if keyed:
            admin = {"authorization": f"Bearer {ADMIN}"}
            httpx.post(gw.url + "/admin/teams", headers=admin, timeout=10,
                       json={"name": "cc", "limits": {}}).raise_for_status()
            key = httpx.post(gw.url + "/admin/keys", headers=admin, timeout=10,
                             json={"team": "cc", "name": "cc"}).json()["key"]
        home = tmp_path / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home),
            "ANTHROPIC_BASE_URL": gw.url, "ANTHROPIC_API_KEY": key,
            # Claude Code asks for its own model names; the gateway's policy decides instead.
            "ANTHROPIC_MODEL": "auto", "ANTHROPIC_SMALL_FAST_MODEL": "auto",
            "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        assert CLAUDE is not None
        done = subprocess.run([CLAUDE, "-p", "Say hello"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "emulated reply from qwen-test" in done.stdout
    sent = [r["body"] for r in emulator_requests(vllm_url)]
    assert sent, "Claude Code's request never reached the local model"
    # Claude Code's Messages request arrived translated: its tools as chat function tools.
    assert any(b.get("tools") and b["tools"][0]["type"] == "function" for b in sent)
