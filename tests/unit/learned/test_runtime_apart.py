"""The gateway's scoring path imports no training code; the CLI loads training only on use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from router.learned.model import TrainOptions
from router_training import cli


def _modules_after(script: str) -> list[str]:
    probe = script + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    # This checkout first, as pytest has it: an older editable install may not map
    # router_training yet.
    root = str(Path(__file__).resolve().parents[3])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_the_scorer_the_gateway_loads_imports_no_training_code() -> None:
    loaded = _modules_after("import router.gateway.scorers, router.learned.runtime")
    assert "router.learned.runtime" in loaded
    assert [m for m in loaded if m.startswith("router_training")] == []


def test_the_cli_parser_registers_router_commands_without_loading_them() -> None:
    loaded = _modules_after("from router.cli import build_parser\nbuild_parser()")
    training = [m for m in loaded if m.startswith("router_training")]
    assert "router_training.cli" in training
    assert set(training) <= {"router_training", "router_training.cli"}


def test_the_cli_defaults_are_the_training_defaults() -> None:
    assert TrainOptions().l2 == cli.DEFAULT_L2
    assert TrainOptions().min_df == cli.DEFAULT_MIN_DF
