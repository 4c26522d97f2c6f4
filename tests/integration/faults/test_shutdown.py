"""SIGTERM with a slow stream in flight: a bounded drain, an error event, exit status 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.faults.conftest import ENV, MESSAGES, fault_policy
from tests.integration.faults.hostile import Hostile, chunk, stream
from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_sigterm_cuts_open_streams_with_an_error_event_and_exits_0(
    hostile: Hostile, backup_url: str, tmp_path: Path
) -> None:
    hostile.play(stream(chunk("started "), then="stall"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(fault_policy(hostile.url + "/v1", backup_url))
    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "router.cli", "serve", "--config", str(policy), "--port",
         str(port)],
        cwd=ROOT, env={**os.environ, **ENV, "JUNCTION_SHUTDOWN_GRACE_S": "6"},
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/health/live", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        body = {"model": "auto", "stream": True, "messages": MESSAGES}
        events: list[str] = []
        with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=30) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            for line in lines:
                if line.startswith("data:"):
                    events.append(line)
                    break
            assert "started " in events[0]
            # The stream is open and stalled upstream: now the orchestrator says stop.
            proc.send_signal(signal.SIGTERM)
            events += [line for line in lines if line.startswith("data:")]
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log.seek(0)
    output = log.read()
    log.close()
    assert status == 0, output
    assert len(events) == 2 and '"error"' in events[1] and "shutting down" in events[1]
    # The stream's own bookkeeping ran (the record and the settlement live in its finally).
    assert "status=502" in output and "shutdown cut 1 stream(s)" in output
