"""Codex CLI (`@openai/codex`) through the Responses door, offline: `codex exec` with a custom
model provider (`wire_api = "responses"`) pointed at a real gateway whose upstream is the vLLM
emulator. Skipped, saying why, only when the `codex` binary is not installed
(`npm install @openai/codex` into `.codex-cli/`, or `codex` on PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from junction_emulate import EmulatorBehaviour, create_vllm_app, run_in_thread
from tests.integration.gateway.conftest import ENV, LOCAL_MODEL, policy_text
from tests.support.gateway import Gateway, closed_port_url, emulator_requests, running_gateway

ROOT = Path(__file__).resolve().parents[3]
CODEX = shutil.which("codex") or next(
    (str(p) for p in [ROOT / ".codex-cli" / "node_modules" / ".bin" / "codex"] if p.exists()),
    None)

pytestmark = pytest.mark.skipif(
    CODEX is None, reason="Codex CLI not installed: npm install --prefix .codex-cli @openai/codex")


@pytest.fixture(scope="module")
def vllm_url() -> Iterator[str]:
    with run_in_thread(create_vllm_app(EmulatorBehaviour(models=(LOCAL_MODEL,)))) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(vllm_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # No API model reachable: everything Codex sends is served by the local emulator.
    policy = policy_text(vllm_url, closed_port_url())
    with running_gateway(policy, tmp_path_factory.mktemp("gw"), ENV) as gw:
        yield gw


def codex(gw: Gateway, home: Path, task: str, *, web_search: bool = False
          ) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    work = home / "work"
    work.mkdir(exist_ok=True)
    (work / "hello.txt").write_text("hello\n")
    # Codex offers a hosted web_search tool unless told not to; this gateway runs none.
    (home / "config.toml").write_text(f"""
model = "auto"
model_provider = "junction"
{'' if web_search else 'web_search = "disabled"'}

[model_providers.junction]
name = "Junction"
base_url = "{gw.v1}"
wire_api = "responses"
env_key = "JUNCTION_API_KEY"
""")
    assert CODEX is not None
    return subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", task], cwd=work, capture_output=True,
        text=True, timeout=180, stdin=subprocess.DEVNULL,
        env={**os.environ, "CODEX_HOME": str(home), "JUNCTION_API_KEY": "local",
             "NO_COLOR": "1"})


def test_codex_exec_completes_a_tool_task(gateway: Gateway, vllm_url: str,
                                          tmp_path: Path) -> None:
    done = codex(gateway, tmp_path / "codex", "Use exec_command to list the files here")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "emulated reply" in done.stdout + done.stderr
    sent = [r["body"] for r in emulator_requests(vllm_url)]
    # The emulator called the tool the task named; Codex ran it and sent its output back.
    assert len(sent) >= 2
    assert any(m["role"] == "tool" for m in sent[-1]["messages"])
    called = [c["function"]["name"] for m in sent[-1]["messages"]
              for c in m.get("tool_calls") or ()]
    assert "exec_command" in called


def test_codex_with_hosted_web_search_gets_a_clear_error(gateway: Gateway,
                                                         tmp_path: Path) -> None:
    done = codex(gateway, tmp_path / "codex-web", "Say hello", web_search=True)
    assert done.returncode != 0
    assert "web_search" in done.stdout + done.stderr
    assert "built-in tool this gateway does not run" in done.stdout + done.stderr
