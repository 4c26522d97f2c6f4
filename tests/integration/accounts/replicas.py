"""Start worker processes that act as gateway replicas, and release them together."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def run_replicas(specs: list[dict[str, Any]], timeout_s: float = 120) -> list[dict[str, Any]]:
    """Run one worker per spec at the same moment; returns each worker's JSON report."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.accounts.worker", json.dumps(spec)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", f"worker did not start: {line!r}"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, _ = proc.communicate(timeout=timeout_s)
            assert proc.returncode == 0, f"worker failed ({proc.returncode}): {out}"
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
