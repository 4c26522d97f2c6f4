"""The policy's own detectors and the personal-data detector, through the gateway and the CLI.

Under a policy whose ordinary route prefers the external model, a request carrying an
organisation keyword or "Patient <name>, born <date>" is served locally, a clean one goes
out; and `junction policy check` names a bad detector with its file, line and key path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.integration.gateway.conftest import ENV, LOCAL_MODEL
from tests.support.gateway import Gateway, emulator_requests, running_gateway

ROOT = Path(__file__).resolve().parents[3]
# The external model is better at every task, so the ordinary route prefers it.
QUALITY = "\n".join(
    f"  {task}: {{local: 0.5, api: 0.9}}"
    for task in ("code", "math", "reasoning", "extraction", "summarisation", "translation",
                 "creative", "chat")
)
PATIENT = "Patient Maria Gonzalez, born 14/03/1978, please summarise her discharge letter."


def policy(local: str, api: str, sensitivity: str) -> str:
    return f"""
version: 1
models:
  local:
    backend: local
    model: {LOCAL_MODEL}
    endpoints: ["{local}"]
    local_cost: {{gpu_hour_usd: 2.0, gpus: 1, tokens_per_second: 2000}}
  api:
    backend: openai
    model: api-small
    endpoints: ["{api}/v1"]
    api_key_env: TEST_API_KEY
    prices: {{input_per_million: 0.15, output_per_million: 0.6}}
routes:
  - name: sensitive
    match: {{sensitivity: [pii, confidential, secret]}}
    candidates: [local]
    on_unavailable: reject
  - name: default
    candidates: [api, local]
    objective: max_quality
quality:
{QUALITY}
{sensitivity}
"""


SENSITIVITY = """
sensitivity:
  detectors:
    - name: project_codenames
      level: confidential
      keywords: [BLUEFALCON, "Project Nimbus"]
    - name: customer_id
      level: pii
      regex: "CUST-[0-9]{6}"
"""


@pytest.fixture
def gateway(vllm_url: str, api_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(policy(vllm_url, api_url, SENSITIVITY), tmp_path, ENV) as gw:
        yield gw


def ask(gw: Gateway, content: str) -> tuple[str, str, str]:
    """The route, model and sensitivity the gateway chose for one user message."""
    client = openai.OpenAI(base_url=gw.v1, api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": content}]
    )
    raw.parse()
    headers = raw.headers
    return (headers["x-junction-route"], headers["x-junction-model"],
            headers["x-junction-sensitivity"])


@pytest.mark.parametrize(
    ("content", "sensitivity"),
    [
        ("Draft the launch plan for project nimbus, due in Q3.", "confidential"),
        ("Where are we on BLUEFALCON?", "confidential"),
        ("Refund the order for CUST-123456 please.", "pii"),
        (PATIENT, "pii"),
    ],
)
def test_org_keywords_and_personal_data_stay_local(
    gateway: Gateway, api_url: str, content: str, sensitivity: str
) -> None:
    assert ask(gateway, content) == ("sensitive", "local", sensitivity)
    assert emulator_requests(api_url) == []


def test_a_clean_request_goes_to_the_external_model(gateway: Gateway, api_url: str) -> None:
    # "Nimbus" alone and a codename inside a longer word are not the keyword.
    route, model, sensitivity = ask(gateway, "Explain nimbus clouds and BLUEFALCONS in one line.")
    assert (route, model, sensitivity) == ("default", "api", "none")
    assert len(emulator_requests(api_url)) == 1


def test_personal_data_can_be_turned_off(
    vllm_url: str, api_url: str, tmp_path: Path
) -> None:
    text = policy(vllm_url, api_url, "sensitivity:\n  personal_data: false\n")
    with running_gateway(text, tmp_path, ENV) as gw:
        assert ask(gw, PATIENT) == ("default", "api", "none")
    assert len(emulator_requests(api_url)) == 1


def junction(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args], capture_output=True, text=True,
        timeout=60, cwd=ROOT, env=dict(os.environ),
    )


@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        ('regex: "CUST-[0-9"', "detector 'customer_id': regex 'CUST-[0-9' does not compile"),
        ('regex: "[0-9]*"', "detector 'customer_id': regex '[0-9]*' matches the empty string"),
    ],
)
def test_policy_check_names_a_bad_detector(
    tmp_path: Path, detector: str, expected: str
) -> None:
    path = tmp_path / "p.yaml"
    sensitivity = f"sensitivity:\n  detectors:\n    - name: customer_id\n      level: pii\n" \
                  f"      {detector}\n"
    path.write_text(policy("http://127.0.0.1:1", "http://127.0.0.1:2", sensitivity))
    line = path.read_text().splitlines().index("    - name: customer_id") + 1
    result = junction("policy", "check", str(path))
    assert result.returncode == 1
    assert f"{path}:{line}: sensitivity.detectors[0]: {expected}" in result.stderr, result.stderr


def test_offline_explain_uses_the_policys_detectors(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(policy("http://127.0.0.1:1", "http://127.0.0.1:2", SENSITIVITY))
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "auto", "messages": [
        {"role": "user", "content": "Summarise the BLUEFALCON notes for CUST-123456."}]}))
    result = junction("route", "explain", "--config", str(path), str(request))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["classification"]["sensitivity"] == "confidential"
    assert data["classification"]["findings"] == {
        "org:project_codenames": 1, "org:customer_id": 1
    }
    assert "org:project_codenames x1" in data["classification"]["signals"]
    assert data["route"] == "sensitive", data
