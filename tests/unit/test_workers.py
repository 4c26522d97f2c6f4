"""The factory `junction serve --workers N` hands each worker: the supervisor's settings and
policy, carried by pickle; the worker reads neither the environment nor the policy file."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from router.policy.loader import read_policy
from router.settings import Settings
from router.workers import WorkerApp

POLICY = """
version: 1
models:
  handed-over:
    backend: openai
    model: m
    endpoints: ["http://127.0.0.1:9/v1"]
    prices: {input_per_million: 1, output_per_million: 1}
routes:
  - name: default
    candidates: [handed-over]
"""


def test_a_worker_builds_from_what_it_was_handed_not_from_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    settings = Settings(policy_file=path, port=4321, data_dir=tmp_path / "data")
    factory = WorkerApp.of(settings, read_policy(path))
    # What a spawned worker sees: another policy and port in its environment, and the file
    # gone (it must not read the policy again).
    monkeypatch.setenv("JUNCTION_POLICY_FILE", "/nonexistent/other.yaml")
    monkeypatch.setenv("JUNCTION_PORT", "1")
    path.unlink()
    worker = pickle.loads(pickle.dumps(factory))
    assert worker.resolved()[0] == settings
    app = worker()
    assert app.state.settings == settings
    assert list(app.state.runtime.current.policy.models) == ["handed-over"]


def test_unpickling_the_factory_imports_nothing_heavy() -> None:
    """A worker answers the supervisor's health pings only after unpickling it."""
    import subprocess
    import sys

    payload = pickle.dumps(WorkerApp(b"x"))
    code = ("import pickle, sys; pickle.loads(sys.stdin.buffer.read()); "
            "print(sorted(m for m in ('fastapi', 'litellm', 'router.app', 'pydantic') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.decode().strip() == "[]"
